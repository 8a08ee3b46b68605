//! `/admin`: the simulator's switchboard (not part of a real PSP). Always JSON, never
//! affected by outage, latency or error rate.

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::call::{Response, query_param, response};
use super::{BehaviourPatch, Psp};

fn reply(status: u16, body: &Value) -> Response {
    response(status, "application/json", body.to_string().into_bytes())
}

fn bad_request(message: &str) -> Response {
    reply(
        400,
        &json!({"error": {"code": "invalid_request", "message": message}}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookTarget {
    base_url: Option<String>,
}

impl Psp {
    pub(super) fn admin(&mut self, request: &http::Request<Vec<u8>>) -> Response {
        let route = request.uri().path().trim_start_matches("/admin");
        let method = request.method();
        match (route, method) {
            ("/behaviour", &Method::GET) => reply(200, &json!(self.behaviour)),
            ("/behaviour", &Method::PUT) => {
                let patch: BehaviourPatch = match serde_json::from_slice(request.body()) {
                    Ok(patch) => patch,
                    Err(e) => return bad_request(&format!("invalid behaviour: {e}")),
                };
                if let Some(problem) = patch.problem() {
                    return bad_request(&problem);
                }
                self.set_behaviour(patch.apply(self.behaviour));
                reply(200, &json!(self.behaviour))
            }
            ("/charges", &Method::GET) => match query_param(request.uri(), "idempotency_key") {
                Some(key) => reply(
                    200,
                    &json!({"idempotency_key": key, "charges": self.charges(&key)}),
                ),
                None => bad_request("the idempotency_key query parameter is required"),
            },
            ("/payments", &Method::GET) => reply(200, &json!(self.ledger.payments())),
            ("/payouts", &Method::GET) => reply(200, &json!(self.ledger.payouts())),
            ("/webhook", &Method::GET) => reply(200, &json!({"base_url": self.webhook_base_url})),
            ("/webhook", &Method::PUT) => {
                match serde_json::from_slice::<WebhookTarget>(request.body()) {
                    Ok(target) => {
                        self.webhook_base_url = target.base_url;
                        reply(200, &json!({"base_url": self.webhook_base_url}))
                    }
                    Err(e) => bad_request(&format!(
                        "expected {{\"base_url\": null | \"http://...\"}}: {e}"
                    )),
                }
            }
            ("/reset", &Method::POST) => {
                self.reset();
                response(204, "application/json", Vec::new())
            }
            ("/behaviour" | "/charges" | "/payments" | "/payouts" | "/webhook" | "/reset", _) => {
                reply(
                    405,
                    &json!({"error": {"code": "method_not_allowed", "message": "method not allowed"}}),
                )
            }
            _ => reply(
                404,
                &json!({"error": {"code": "no_such_route", "message": "no such admin route"}}),
            ),
        }
    }
}
