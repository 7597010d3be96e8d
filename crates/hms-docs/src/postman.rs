//! The Postman collection (format v2.1), generated from the catalogue.
//!
//! Its requests are ordered so that the whole collection runs top to bottom on a fresh
//! server: a template, a room from it, room codes for the room, a code exchanged for an
//! app token, simulated peers joining, the active room and its peers, and finally the room
//! ended and its session read back. Each request's test checks its status and stores the
//! ids the later requests use in collection variables. A server without the peer simulator
//! serves a collection without its requests, where no peer joins: there the active-room
//! requests check that no session is running, and the session requests that none took
//! place.

use hms_api::{Auth, Body, Operation, Response, Served};
use schemars::SchemaGenerator;
use serde_json::{Value, json};

use crate::openapi::{groups, query_parameters};

/// Where the collection points until `BASE_URL` is set: `hms serve`'s default address.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";

/// One request of the run.
#[derive(Clone, Copy)]
struct Step {
    op: &'static str,
    /// The request's name when it is not the operation's summary (a second request of an
    /// operation).
    name: Option<&'static str>,
    /// Path variables whose value is not `{{<name of the variable>}}`.
    path: &'static [(&'static str, &'static str)],
    /// Query parameters sent (the others are listed, disabled).
    query: &'static [(&'static str, &'static str)],
    /// The body, when it is not the operation's example.
    body: Option<fn() -> Value>,
    /// Test lines run on success with the parsed answer in `body`: checks, and the
    /// collection variables later requests use.
    then: &'static str,
    /// What the request answers instead on a server without the peer simulator, where no
    /// peer can join.
    alone: Option<Alone>,
}

/// An answer on a server without the peer simulator: its status, and test lines as in
/// [`Step::then`].
#[derive(Clone, Copy)]
struct Alone {
    status: u16,
    then: &'static str,
}

/// What the active-room requests answer when no peer could join.
const NOT_ACTIVE: Option<Alone> = Some(Alone {
    status: 404,
    then: r#"pm.expect(body.message).to.eql("Room is not active");"#,
});

const fn step(op: &'static str) -> Step {
    Step {
        op,
        name: None,
        path: &[],
        query: &[],
        body: None,
        then: "",
        alone: None,
    }
}

/// The requests that need more than the catalogue says, in the order they run within their
/// folder. Operations missing here run after them, in the catalogue's order, with their
/// examples and `{{<path parameter>}}` values.
const SCENARIO: &[Step] = &[
    // Policy APIs: the template everything else uses.
    Step {
        body: Some(|| json!({"name": "postman-webinar", "roles": {"host": {}, "guest": {}}})),
        then: r#"pm.expect(body.id).to.be.a("string");
pm.collectionVariables.set("template_id", body.id);
pm.collectionVariables.set("role", Object.keys(body.roles)[0]);"#,
        ..step("create-template")
    },
    Step {
        then: r#"pm.expect(body.data).to.be.an("array");"#,
        ..step("list-templates")
    },
    Step {
        then: r#"pm.expect(body.id).to.eql(pm.collectionVariables.get("template_id"));"#,
        ..step("get-template")
    },
    Step {
        then: r#"pm.expect(Object.keys(body.roles)).to.include.members(["host", "guest"]);"#,
        ..step("update-template")
    },
    // Role APIs: a role added and removed again.
    Step {
        then: r#"pm.expect(body.name).to.eql(pm.collectionVariables.get("role"));"#,
        ..step("get-role")
    },
    Step {
        path: &[("role", "co-host")],
        then: r#"pm.expect(body.name).to.eql("co-host");"#,
        ..step("upsert-role")
    },
    Step {
        path: &[("role", "co-host")],
        ..step("delete-role")
    },
    // Room APIs: the room, disabled and enabled again.
    Step {
        body: Some(|| {
            json!({"name": "postman-standup", "description": "Daily standup", "template_id": "{{template_id}}",
                   "region": "eu"})
        }),
        then: r#"pm.expect(body.template_id).to.eql(pm.collectionVariables.get("template_id"));
pm.collectionVariables.set("room_id", body.id);"#,
        ..step("create-room")
    },
    step("get-room"),
    Step {
        then: r#"pm.expect(body.data).to.be.an("array");"#,
        ..step("list-rooms")
    },
    step("update-room"),
    Step {
        then: r#"pm.expect(body.enabled).to.eql(false);"#,
        ..step("disable-room")
    },
    Step {
        then: r#"pm.expect(body.enabled).to.eql(true);"#,
        ..step("enable-room")
    },
    // Room Code APIs: a code per role, one more for the guests, disabled and enabled.
    Step {
        then: r#"const role = pm.collectionVariables.get("role");
const code = body.data.find((c) => c.role === role && c.enabled);
pm.expect(code, "an enabled code for " + role).to.be.an("object");
pm.collectionVariables.set("code", code.code);"#,
        ..step("create-room-codes")
    },
    Step {
        path: &[("role", "guest")],
        then: r#"pm.expect(body.role).to.eql("guest");
pm.collectionVariables.set("guest_code", body.code);"#,
        ..step("create-room-code-for-role")
    },
    Step {
        then: r#"pm.expect(body.data.length).to.be.above(1);"#,
        ..step("get-room-codes")
    },
    Step {
        path: &[("code", "{{guest_code}}")],
        body: Some(|| json!({"enabled": false})),
        then: r#"pm.expect(body.enabled).to.eql(false);"#,
        ..step("update-room-code")
    },
    Step {
        body: Some(|| json!({"code": "{{guest_code}}", "enabled": true})),
        then: r#"pm.expect(body.enabled).to.eql(true);"#,
        ..step("update-room-code-by-body")
    },
    // Auth APIs: what a client app does with the code.
    Step {
        body: Some(|| json!({"code": "{{code}}", "user_id": "alice"})),
        then: r#"pm.expect(body.token.split(".")).to.have.lengthOf(3);"#,
        ..step("exchange-room-code")
    },
    // Peer Simulator APIs: a host and a guest who stay, and a guest who leaves.
    Step {
        body: Some(|| json!({"role": "{{role}}", "name": "Ann", "user_id": "ann"})),
        then: r#"pm.collectionVariables.set("peer_id", body.id);"#,
        ..step("simulate-peer-join")
    },
    Step {
        name: Some("Join a simulated guest"),
        body: Some(|| json!({"role": "guest", "name": "Bob", "user_id": "bob"})),
        then: r#"pm.collectionVariables.set("guest_peer_id", body.id);"#,
        ..step("simulate-peer-join")
    },
    Step {
        name: Some("Join a simulated guest who leaves"),
        body: Some(|| json!({"role": "guest", "name": "Cid", "user_id": "cid"})),
        then: r#"pm.collectionVariables.set("leaving_peer_id", body.id);"#,
        ..step("simulate-peer-join")
    },
    Step {
        path: &[("peer_id", "{{leaving_peer_id}}")],
        ..step("simulate-peer-leave")
    },
    Step {
        then: r#"pm.expect(body.messages).to.be.an("array");"#,
        ..step("list-simulated-peer-messages")
    },
    Step {
        query: &[("room_id", "{{room_id}}")],
        then: r#"pm.expect(body.events.map((e) => e.type)).to.include("peer.join.success");"#,
        ..step("list-events")
    },
    // Active Room APIs: the running session, ended at last.
    Step {
        then: r#"pm.expect(body.session.peers).to.include(pm.collectionVariables.get("peer_id"));
pm.collectionVariables.set("session_id", body.session.id);"#,
        alone: NOT_ACTIVE,
        ..step("get-active-room")
    },
    Step {
        then: r#"pm.expect(Object.keys(body.peers)).to.have.lengthOf(2);"#,
        alone: NOT_ACTIVE,
        ..step("list-active-room-peers")
    },
    Step {
        then: r#"pm.expect(body.id).to.eql(pm.collectionVariables.get("peer_id"));"#,
        alone: NOT_ACTIVE,
        ..step("get-active-room-peer")
    },
    Step {
        alone: NOT_ACTIVE,
        ..step("update-active-room-peer")
    },
    Step {
        alone: NOT_ACTIVE,
        ..step("send-message")
    },
    Step {
        body: Some(|| json!({"role": "guest", "reason": "Thanks for joining"})),
        alone: NOT_ACTIVE,
        ..step("remove-peers")
    },
    Step {
        alone: NOT_ACTIVE,
        ..step("end-active-room")
    },
    // Session APIs: the session that just ended.
    Step {
        query: &[("room_id", "{{room_id}}")],
        then: r#"pm.expect(body.data.map((s) => s.id)).to.include(pm.collectionVariables.get("session_id"));"#,
        alone: Some(Alone {
            status: 200,
            then: r#"pm.expect(body.data).to.eql([]);"#,
        }),
        ..step("list-sessions")
    },
    Step {
        then: r#"pm.expect(Object.keys(body.peers)).to.include(pm.collectionVariables.get("peer_id"));"#,
        alone: Some(Alone {
            status: 404,
            then: r#"pm.expect(body.message).to.eql("Session not found");"#,
        }),
        ..step("get-session")
    },
    // Analytics APIs: the webhook history, and a replay of it.
    Step {
        then: r#"pm.collectionVariables.set("workflow_id", body.workflow_id);"#,
        ..step("replay-webhooks")
    },
];

/// Runs before every request: mints the management token into `TOKEN` when it is missing,
/// belongs to another access key, or expires within 60 seconds.
const MINT_TOKEN: &str = r#"// Mints a management token into TOKEN: a JWT signed (HS256) with APP_SECRET, with the
// claims 100ms-compatible servers expect. It mints only when TOKEN is missing, belongs to
// another APP_ACCESS_KEY, or expires within 60 seconds.
const cryptoJs = require("crypto-js");
const accessKey = pm.variables.get("APP_ACCESS_KEY");
const secret = pm.variables.get("APP_SECRET");
const now = Math.floor(Date.now() / 1000);

function base64url(words) {
    return cryptoJs.enc.Base64.stringify(words).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

function claimsOf(token) {
    try {
        let part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
        while (part.length % 4 !== 0) {
            part += "=";
        }
        return JSON.parse(cryptoJs.enc.Base64.parse(part).toString(cryptoJs.enc.Utf8));
    } catch (error) {
        return null;
    }
}

function uuid4() {
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
        const r = (Math.random() * 16) | 0;
        return (c === "x" ? r : (r & 0x3) | 0x8).toString(16);
    });
}

const current = pm.variables.get("TOKEN");
const claims = current ? claimsOf(current) : null;
const fresh = claims !== null && claims.access_key === accessKey && typeof claims.exp === "number" &&
    claims.exp - now > 60;
const needsToken = !(pm.request.auth && pm.request.auth.type === "noauth");

if (!fresh && accessKey && secret) {
    // Back-dated a little, like the official SDKs, for a server whose clock is behind.
    const iat = now - 10;
    const header = { alg: "HS256", typ: "JWT" };
    const payload = {
        access_key: accessKey,
        type: "management",
        version: 2,
        iat: iat,
        nbf: iat,
        exp: iat + 24 * 60 * 60,
        jti: uuid4(),
    };
    const unsigned = base64url(cryptoJs.enc.Utf8.parse(JSON.stringify(header))) + "." +
        base64url(cryptoJs.enc.Utf8.parse(JSON.stringify(payload)));
    const token = unsigned + "." + base64url(cryptoJs.HmacSHA256(unsigned, secret));
    pm.collectionVariables.set("TOKEN", token);
    console.log("minted a management token for " + accessKey + ", valid until " + new Date(payload.exp * 1000).toISOString());
    if (pm.environment && pm.environment.has("TOKEN")) {
        pm.environment.set("TOKEN", token);
    }
} else if (!fresh && needsToken) {
    throw new Error("Set the collection variables APP_ACCESS_KEY and APP_SECRET (the app access key and " +
        "secret of your openhms workspace) so that a management token can be minted.");
}"#;

/// The Postman v2.1 collection of the operations a server configured as `served` serves,
/// pointing at [`DEFAULT_BASE_URL`] until its `BASE_URL` variable is set.
pub fn postman_collection(served: Served) -> Value {
    postman_collection_for(DEFAULT_BASE_URL, served)
}

/// The Postman collection with `base_url` as the default value of `BASE_URL`.
pub fn postman_collection_for(base_url: &str, served: Served) -> Value {
    let mut generator = SchemaGenerator::default();
    let folders: Vec<Value> = groups(served)
        .into_iter()
        .map(|group| {
            let mut steps: Vec<Step> = SCENARIO
                .iter()
                .filter(|step| hms_api::find(step.op).is_some_and(|op| op.group == group && served.serves(op)))
                .copied()
                .collect();
            steps.extend(
                served
                    .operations()
                    .filter(|op| op.group == group && !SCENARIO.iter().any(|step| step.op == op.name))
                    .map(|op| step(op.name)),
            );
            let items: Vec<Value> = steps
                .iter()
                .map(|step| {
                    request(
                        hms_api::find(step.op).expect("scenario names operations"),
                        step,
                        served,
                        &mut generator,
                    )
                })
                .collect();
            json!({"name": group.title(), "description": group.description(), "item": items})
        })
        .collect();
    json!({
        "info": {
            "name": "openhms",
            "description": DESCRIPTION,
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "item": folders,
        "auth": {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{TOKEN}}", "type": "string"}],
        },
        "event": [{
            "listen": "prerequest",
            "script": {"type": "text/javascript", "exec": lines(MINT_TOKEN)},
        }],
        "variable": [
            variable("APP_ACCESS_KEY", "", "The app access key of your workspace (HMS_ACCESS_KEY)"),
            variable("APP_SECRET", "", "The app secret of your workspace (HMS_SECRET)"),
            variable("BASE_URL", base_url, "Where your openhms server listens"),
            variable("TOKEN", "", "The management token; minted by the collection's pre-request script"),
        ],
    })
}

const DESCRIPTION: &str = "The server-side REST API v2 of openhms, a self-hosted server compatible with the \
100ms API.\n\nSet the collection variables APP_ACCESS_KEY and APP_SECRET to your workspace's access key and \
secret, and BASE_URL to where your server listens. A pre-request script mints the management token into TOKEN \
whenever it is missing or about to expire, and every request uses it as its Bearer authentication.\n\nRun the \
whole collection in order against the server that served it: each request stores the ids the next ones need \
(template, room, room codes, peers, session). A server started with `--simulate-peers` serves the Peer \
Simulator APIs too, whose peers give the Active Room and Session APIs a session to show; without them, those \
requests check that no session is running.";

fn variable(key: &str, value: &str, description: &str) -> Value {
    json!({"key": key, "value": value, "type": "string", "description": description})
}

fn lines(script: &str) -> Vec<&str> {
    script.lines().collect()
}

fn request(op: &Operation, step: &Step, served: Served, generator: &mut SchemaGenerator) -> Value {
    let mut path_segments = Vec::new();
    let mut path_variables = Vec::new();
    for segment in op.path.split('/').skip(1) {
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) => {
                path_segments.push(format!(":{param}"));
                let value = step
                    .path
                    .iter()
                    .find(|(name, _)| *name == param)
                    .map(|(_, value)| (*value).to_owned())
                    .unwrap_or_else(|| format!("{{{{{param}}}}}"));
                path_variables.push(json!({"key": param, "value": value}));
            }
            None => path_segments.push(segment.to_owned()),
        }
    }
    let query: Vec<Value> = op
        .query
        .map(|query| {
            let schema = query(generator).to_value();
            query_parameters(&schema, generator)
        })
        .unwrap_or_default()
        .into_iter()
        .map(|(name, _, _, description)| {
            let sent = step.query.iter().find(|(key, _)| *key == name);
            let mut parameter = json!({"key": name, "value": sent.map(|(_, value)| *value).unwrap_or("")});
            if sent.is_none() {
                parameter["disabled"] = json!(true);
            }
            if let Some(description) = description {
                parameter["description"] = json!(description);
            }
            parameter
        })
        .collect();
    let enabled: Vec<String> = query
        .iter()
        .filter(|parameter| parameter.get("disabled").is_none())
        .map(|parameter| {
            format!(
                "{}={}",
                parameter["key"].as_str().unwrap_or(""),
                parameter["value"].as_str().unwrap_or("")
            )
        })
        .collect();
    let mut raw = format!("{{{{BASE_URL}}}}/{}", path_segments.join("/"));
    if !enabled.is_empty() {
        raw.push('?');
        raw.push_str(&enabled.join("&"));
    }
    let mut url = json!({"raw": raw, "host": ["{{BASE_URL}}"], "path": path_segments});
    if !query.is_empty() {
        url["query"] = Value::Array(query);
    }
    if !path_variables.is_empty() {
        url["variable"] = Value::Array(path_variables);
    }

    let body = step.body.map(|body| body()).or_else(|| match op.body {
        Body::None => None,
        Body::Fixed(body) => Some(body()),
        Body::Json(_) => Some(op.example.map(|example| example()).unwrap_or_else(|| json!({}))),
    });
    let mut headers = vec![json!({"key": "Accept", "value": "application/json"})];
    let mut request = json!({"method": op.method.as_str(), "url": url});
    if let Some(body) = body {
        headers.push(json!({"key": "Content-Type", "value": "application/json"}));
        request["body"] = json!({
            "mode": "raw",
            "raw": serde_json::to_string_pretty(&body).expect("JSON"),
            "options": {"raw": {"language": "json"}},
        });
    }
    request["header"] = Value::Array(headers);
    let mut description = op.description.to_owned();
    if op.simulator {
        description.push_str("\n\nServed only when the server runs with `--simulate-peers`.");
    }
    if let Some(of) = op.alias_of {
        description.push_str(&format!("\n\nAnother path for `{of}`."));
    }
    request["description"] = json!(description);
    if op.auth == Auth::None {
        request["auth"] = json!({"type": "noauth"});
    }

    json!({
        "name": step.name.unwrap_or(op.summary),
        "request": request,
        "event": [{
            "listen": "test",
            "script": {"type": "text/javascript", "exec": lines(&test_script(op, step, served))},
        }],
    })
}

/// The status check of a request, and what it carries forward.
fn test_script(op: &Operation, step: &Step, served: Served) -> String {
    let (status, json, then) = match (op.response, step.alone.filter(|_| !served.simulator)) {
        (_, Some(alone)) => (alone.status, true, alone.then),
        (Response::Json(_), None) => (200, true, step.then),
        (Response::NoContent, None) => (204, false, step.then),
    };
    let mut script = format!(
        "// {name}: {method} {path}\npm.test(\"answers {status}\", function () {{\n    pm.response.to.have.status({status});\n}});\n",
        name = op.name,
        method = op.method.as_str(),
        path = op.path,
    );
    if json {
        script.push_str(
            "pm.test(\"answers JSON\", function () {\n    pm.expect(pm.response.headers.get(\"Content-Type\")).to.include(\"application/json\");\n});\n",
        );
    }
    if !then.is_empty() {
        script.push_str(&format!(
            "pm.test(\"carries on\", function () {{\n    pm.response.to.have.status({status});\n    const body = pm.response.json();\n"
        ));
        for line in then.lines() {
            script.push_str("    ");
            script.push_str(line);
            script.push('\n');
        }
        script.push_str("});\n");
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_operations() {
        for step in SCENARIO {
            assert!(hms_api::find(step.op).is_some(), "{} is not in the catalogue", step.op);
        }
    }

    #[test]
    fn every_served_operation_has_a_request_and_no_other() {
        for served in [Served::ALL, Served::default()] {
            let requests = requests(&postman_collection(served));
            for op in hms_api::OPERATIONS {
                let path = op
                    .path
                    .trim_start_matches('/')
                    .split('/')
                    .map(
                        |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            Some(param) => format!(":{param}"),
                            None => segment.to_owned(),
                        },
                    )
                    .collect::<Vec<_>>()
                    .join("/");
                assert_eq!(
                    requests.contains(&(op.method.as_str().to_owned(), path.clone())),
                    served.serves(op),
                    "{} {path} in {served:?}",
                    op.method.as_str()
                );
            }
        }
    }

    #[test]
    fn without_the_simulator_the_active_room_requests_expect_no_session() {
        let collection = postman_collection(Served::default());
        let folder = collection["item"]
            .as_array()
            .unwrap()
            .iter()
            .find(|folder| folder["name"] == "Active Room APIs")
            .unwrap();
        for item in folder["item"].as_array().unwrap() {
            let script = item["event"][0]["script"]["exec"].as_array().unwrap();
            assert!(
                script.contains(&json!("    pm.response.to.have.status(404);")),
                "{item:#}"
            );
        }
    }

    /// The method and path (`:param` placeholders) of each request of a collection.
    fn requests(collection: &Value) -> Vec<(String, String)> {
        collection["item"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|folder| folder["item"].as_array().unwrap())
            .map(|item| {
                let request = &item["request"];
                let path = request["url"]["path"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|segment| segment.as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                (request["method"].as_str().unwrap().to_owned(), path)
            })
            .collect()
    }
}
