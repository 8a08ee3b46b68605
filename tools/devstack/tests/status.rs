//! The devstack's status page around a real lifecycle: deposits through the API, the
//! queue, the processor and simulated gateways, then `/status.json` read as the page
//! reads it, and the page itself rendered by a real headless Chromium.

use devstack::{Running, Settings};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A started stack and the deposits sent through it, each in its final status.
struct Lifecycle {
    running: Running,
    settings: Settings,
    /// (deposit id, final status)
    deposits: Vec<(String, String)>,
}

/// Starts a stack on a free port and sends `tokens` as card deposits (AED in AE), waiting
/// until each is final.
async fn lifecycle(tokens: &[&str]) -> Lifecycle {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings =
        Settings::from_args_and_env(["--addr".to_owned(), "127.0.0.1:0".to_owned()], |_| None)
            .expect("default settings");
    let running = devstack::start(&settings).await.expect("the stack starts");
    let client = reqwest::Client::new();
    let base = &running.base_url;
    let mut ids = Vec::new();
    for (n, token) in tokens.iter().enumerate() {
        let reply = client
            .post(format!("{base}/v1/deposits"))
            .bearer_auth(settings.api_key())
            .header("Idempotency-Key", format!("status-{n}"))
            .json(&json!({
                "amount": 1000 + n as u64, "currency": "AED", "country": "AE",
                "customer_id": format!("cus_{n}"),
                "payment_method": { "type": "card", "token": token },
            }))
            .send()
            .await
            .expect("the intake answers");
        assert_eq!(reply.status(), 202, "deposit {n} accepted");
        let created: Value = reply.json().await.unwrap();
        ids.push(created["id"].as_str().expect("a deposit id").to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut deposits = Vec::new();
    for id in ids {
        loop {
            let read: Value = client
                .get(format!("{base}/v1/deposits/{id}"))
                .bearer_auth(settings.api_key())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let status = read["status"].as_str().unwrap_or_default().to_owned();
            if status == "succeeded" || status == "failed" {
                deposits.push((id, status));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{id} did not become final: {read}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Lifecycle {
        running,
        settings,
        deposits,
    }
}

async fn get(url: &str) -> (u16, String) {
    let reply = reqwest::get(url).await.expect("the devstack answers");
    (reply.status().as_u16(), reply.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_shows_the_gateways_the_latest_deposits_and_their_trails() {
    let stack = lifecycle(&["tok_success", "tok_decline"]).await;
    let base = &stack.running.base_url;

    let (code, body) = get(&format!("{base}/status.json")).await;
    assert_eq!(code, 200, "{body}");
    let status: Value = serde_json::from_str(&body).unwrap();

    let listed = status["deposits"].as_array().expect("deposits");
    for (id, final_status) in &stack.deposits {
        let row = listed
            .iter()
            .find(|row| row["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} listed: {body}"));
        assert_eq!(row["status"], final_status.as_str());
        assert_eq!(row["currency"], "AED");
        assert_eq!(
            row["events_url"],
            format!("/status/deposits/{id}/events.json")
        );
    }
    assert_eq!(
        listed[0]["id"],
        stack.deposits.last().unwrap().0.as_str(),
        "newest first"
    );

    let gateways = status["gateways"].as_array().expect("gateways");
    for seeded in &stack.running.gateways {
        let row = gateways
            .iter()
            .find(|row| row["name"] == seeded.name.as_str())
            .unwrap_or_else(|| panic!("{} shown: {body}", seeded.name));
        assert!(
            row["health"].is_string() && row["breaker"].is_string(),
            "{row}"
        );
        let recent = &row["recent"];
        assert!(recent["calls"].is_u64(), "{row}");
        let points = recent["p95_ms_series"]
            .as_array()
            .expect("a p95 series")
            .len();
        assert_eq!(
            points,
            recent["success_rate_series"].as_array().unwrap().len()
        );
        assert!(points > 1, "{row}");
    }
    let called: u64 = gateways
        .iter()
        .map(|row| row["recent"]["calls"].as_u64().unwrap())
        .sum();
    assert!(called >= 2, "both deposits' calls are counted: {body}");
    let busy = gateways
        .iter()
        .find(|row| row["recent"]["calls"].as_u64() > Some(0))
        .unwrap();
    assert!(busy["recent"]["p95_ms"].as_f64().is_some(), "{busy}");
    assert!(busy["recent"]["success_rate"].as_f64().is_some(), "{busy}");

    let rate = &status["deposits_per_second"];
    assert!(rate["now"].is_number(), "{rate}");
    assert_eq!(rate["per_second"].as_array().map(Vec::len), Some(120));
    assert!(status["anomalies"].is_array());

    // Nothing secret: no API key, no card token, no gateway address.
    assert!(!body.contains(stack.settings.api_key()), "no API key");
    assert!(!body.contains("tok_"), "no card token: {body}");
    assert!(
        !body.contains("base_url") && !body.contains("127.0.0.1"),
        "{body}"
    );

    // Each listed deposit's trail, without an API key.
    let (id, _) = &stack.deposits[0];
    let (code, body) = get(&format!("{base}/status/deposits/{id}/events.json")).await;
    assert_eq!(code, 200, "{body}");
    let trail: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(trail["deposit_id"], id.as_str());
    let kinds: Vec<&str> = trail["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"DepositRequested"), "{body}");
    assert!(kinds.contains(&"DepositSucceeded"), "{body}");
    assert!(!body.contains("tok_"), "no card token in the trail: {body}");
    let unknown = "0190a0f0-0000-7000-8000-000000000000";
    let (code, _) = get(&format!("{base}/status/deposits/{unknown}/events.json")).await;
    assert_eq!(code, 404);
    let (code, _) = get(&format!("{base}/status/deposits/nope/events.json")).await;
    assert_eq!(code, 404);

    // The page and its script are served from the binary.
    let (code, page) = get(&format!("{base}/")).await;
    assert_eq!(code, 200);
    assert!(
        page.contains("<script src=\"/status.js\"></script>"),
        "{page}"
    );
    let (code, script) = get(&format!("{base}/status.js")).await;
    assert_eq!(code, 200);
    assert!(script.contains("/status.json"));
    stack.running.stop();
}

// ---------------------------------------------------------------- the browser

/// `PAYGATE_CHROMIUM`, else `chromium` or `chromium-browser` on `PATH`.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("PAYGATE_CHROMIUM").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no Chromium for the status page's browser test: set PAYGATE_CHROMIUM or put \
                 `chromium` on PATH (`cargo xtask test` installs Debian's; by hand: \
                 apt-get install -y --no-install-recommends chromium)"
            )
        })
}

/// Where this test leaves its screenshot and Chromium profiles: the target directory.
fn output_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/status-<hash>
    let target = exe.ancestors().nth(3).unwrap_or(Path::new("."));
    let dir = target.join("status-page");
    std::fs::create_dir_all(&dir).expect("an output folder under the target directory");
    dir
}

/// Runs headless Chromium on `url` with `extra` arguments; its stdout. Fails the test if it
/// does not finish within a minute or exits unsuccessfully.
fn headless(browser: &Path, profile: &Path, url: &str, extra: &[String]) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=6000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", browser.display()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("the browser's status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} did not finish within a minute", browser.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("the browser's output");
    assert!(
        output.status.success(),
        "{} failed ({}): {}",
        browser.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_shows_each_deposit_with_its_status_and_every_gateway() {
    let browser = chromium();
    let stack = lifecycle(&["tok_success", "tok_success", "tok_decline"]).await;
    // With a deposit's trail open, as a link from the page leaves it in the address.
    let (first, _) = &stack.deposits[0];
    let url = format!("{}/#deposit={first}", stack.running.base_url);
    let out = output_dir();
    let profile = out.join(format!("profile-{}", std::process::id()));
    let screenshot = out.join("status.png");

    let dom = {
        let (browser, profile, url) = (browser.clone(), profile.clone(), url.clone());
        let dump = ["--dump-dom".to_owned()];
        tokio::task::spawn_blocking(move || headless(&browser, &profile, &url, &dump))
            .await
            .unwrap()
    };
    for (id, status) in &stack.deposits {
        let row_start = dom
            .find(&format!("data-deposit=\"{id}\""))
            .unwrap_or_else(|| panic!("deposit {id} is not on the page:\n{dom}"));
        let row = &dom[row_start..];
        let row = &row[..row.find("</tr>").unwrap_or(row.len())];
        assert!(row.contains(id.as_str()), "{id} shown: {row}");
        assert!(
            row.contains(&format!(">{status}<")),
            "{id} shows {status}: {row}"
        );
    }
    let trail = &dom[dom.find("id=\"trail-events\"").expect("the trail panel")..];
    let trail = &trail[..trail.find("</ol>").unwrap_or(trail.len())];
    for kind in ["DepositRequested", "AttemptStarted", "DepositSucceeded"] {
        assert!(
            trail.contains(kind),
            "the trail of {first} shows {kind}: {trail}"
        );
    }
    for gateway in &stack.running.gateways {
        assert!(
            dom.contains(&format!("data-gateway=\"{}\"", gateway.name))
                && dom.contains(&format!(">{}<", gateway.name)),
            "gateway {} is not on the page:\n{dom}",
            gateway.name
        );
    }

    let shot = [
        format!("--screenshot={}", screenshot.display()),
        "--window-size=1280,1000".to_owned(),
    ];
    tokio::task::spawn_blocking(move || headless(&browser, &profile, &url, &shot))
        .await
        .unwrap();
    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG"),
        "a PNG at {}",
        screenshot.display()
    );
    println!("status page screenshot: {}", screenshot.display());
    let _ = std::fs::remove_dir_all(out.join(format!("profile-{}", std::process::id())));
    stack.running.stop();
}
