//! Real responses of a running server match the OpenAPI description it
//! serves (a small JSON-schema checker for the subset utoipa emits).

mod common;

use serde_json::Value;
use servicewatch::config::Layer;
use servicewatch_shared::Day;

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Errors found checking `value` against `schema`, with JSON paths.
fn check(doc: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let ok = alts.iter().any(|alt| {
                let mut e = Vec::new();
                check(doc, alt, value, path, &mut e);
                e.is_empty()
            });
            if !ok {
                errors.push(format!("{path}: matches none of {key}"));
            }
            return;
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(doc, s, value, path, errors);
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let is = |ty: &str| match ty {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => true,
        };
        if !types.iter().any(|t| is(t)) {
            errors.push(format!("{path}: expected {types:?}, got {value}"));
            return;
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            errors.push(format!("{path}: {value} is not one of {values:?}"));
        }
    }
    if schema.get("format").and_then(Value::as_str) == Some("date") {
        if let Some(s) = value.as_str() {
            if Day::parse(s).is_err() {
                errors.push(format!("{path}: `{s}` is not a date"));
            }
        }
    }
    if let (Some(props), Some(obj)) = (schema.get("properties").and_then(Value::as_object), value.as_object()) {
        for req in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let req = req.as_str().unwrap_or_default();
            if !obj.contains_key(req) {
                errors.push(format!("{path}: missing required `{req}`"));
            }
        }
        for (k, v) in obj {
            match props.get(k) {
                Some(s) => check(doc, s, v, &format!("{path}.{k}"), errors),
                None => errors.push(format!("{path}: `{k}` is not described")),
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate().take(50) {
            check(doc, items, v, &format!("{path}[{i}]"), errors);
        }
    }
}

#[tokio::test]
async fn responses_match_the_description() {
    let file = common::sample_file("openapi", 3, 6, 60);
    let srv = common::start_audited(&file, &common::fresh_audit_db("openapi"), Layer::default()).await;
    let base = srv.base.clone();

    let doc: Value = reqwest::get(format!("{base}/api/openapi.json")).await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let meta: Value = reqwest::get(format!("{base}/api/meta")).await.unwrap().json().await.unwrap();
    let svc = meta["services"][0].as_str().unwrap().to_string();
    let calls = [
        ("/api/meta", "/api/meta", 200),
        ("/api/progress", "/api/progress", 200),
        ("/api/daily", "/api/daily?from=2024-01-01&to=2024-01-20", 200),
        ("/api/anomalies", "/api/anomalies?z=2&limit=20", 200),
        ("/api/transactions", &format!("/api/transactions?orderservice={svc}&date=2024-01-10&limit=3"), 200),
        ("/api/daily", "/api/daily?from=nope", 400),
        ("/api/anomalies", "/api/anomalies?method=nope", 400),
        ("/api/transactions", "/api/transactions?date=2024-01-10", 400),
        ("/api/audit", "/api/audit?since=2024-01-01", 200),
        ("/api/audit", "/api/audit?since=nope", 400),
        ("/api/meta", "/api/meta?metric=amount&split=channel&segment=fleet", 200),
        ("/api/meta", "/api/meta?split=nope", 400),
        ("/api/daily", "/api/daily?metric=amount&split=payment_method&from=2024-01-01&to=2024-01-20", 200),
        ("/api/anomalies", "/api/anomalies?metric=amount&channel=web&channel=app&z=2&limit=20", 200),
    ];
    for (route, url, status) in calls {
        let resp = reqwest::get(format!("{base}{url}")).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{url}");
        let body: Value = resp.json().await.unwrap();
        let op = &doc["paths"][route]["get"];
        assert!(op.is_object(), "{route} is not described");
        let schema = &op["responses"][status.to_string()]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{route} {status} has no schema");
        let mut errors = Vec::new();
        check(&doc, schema, &body, "$", &mut errors);
        assert!(errors.is_empty(), "{url}: {errors:#?}");
    }
    // POST /api/audit: what it records, then the rows it kept.
    let post = |body: &'static str, content_type: &'static str| {
        reqwest::Client::new().post(format!("{base}/api/audit")).header("content-type", content_type).body(body).send()
    };
    let op = &doc["paths"]["/api/audit"]["post"];
    assert!(op["requestBody"]["content"]["application/json"]["schema"].is_object(), "{op}");
    for (body, content_type, status) in [
        ("{\"z\":2}", "application/json", 200),
        ("{\"z\":-1}", "application/json", 400),
        ("z=2", "text/plain", 415),
        (
            "{\"z\":2,\"metric\":\"amount\",\"split\":\"channel\",\"payment_method\":[\"card\"]}",
            "application/json",
            200,
        ),
        ("{\"split\":\"colour\"}", "application/json", 400),
        ("{\"segment\":[]}", "application/json", 400),
    ] {
        let resp = post(body, content_type).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{body}");
        let value: Value = resp.json().await.unwrap();
        let schema = &op["responses"][status.to_string()]["content"]["application/json"]["schema"];
        let mut errors = Vec::new();
        check(&doc, schema, &value, "$", &mut errors);
        assert!(errors.is_empty(), "POST {body}: {errors:#?}");
    }
    let rows: Value = reqwest::get(format!("{base}/api/audit")).await.unwrap().json().await.unwrap();
    assert!(!rows["records"].as_array().unwrap().is_empty(), "{rows}");
    let schema = &doc["paths"]["/api/audit"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    let mut errors = Vec::new();
    check(&doc, schema, &rows, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");

    // The checker itself notices a wrong body.
    let meta_schema = &doc["paths"]["/api/meta"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    let mut errors = Vec::new();
    check(&doc, meta_schema, &serde_json::json!({"table": 5, "first": "2024-02-30", "extra": 1}), "$", &mut errors);
    assert!(errors.len() >= 3, "{errors:?}");

    // Every documented operation exists: the server answers it, not 404.
    let client = reqwest::Client::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let resp = client.request(method.to_uppercase().parse().unwrap(), format!("{base}{path}")).send();
            assert_ne!(resp.await.unwrap().status().as_u16(), 404, "{method} {path}");
        }
    }
    // And what is not documented is: a 404 in the API's error body.
    let error_schema = serde_json::json!({"$ref": "#/components/schemas/ErrorBody"});
    for path in ["/api/nope", "/api/metadata", "/api/meta/", "/api/v2/daily"] {
        let resp = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(resp.status().as_u16(), 404, "{path}");
        let body: Value = resp.json().await.unwrap();
        let mut errors = Vec::new();
        check(&doc, &error_schema, &body, "$", &mut errors);
        assert!(errors.is_empty(), "{path}: {errors:#?}");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
}

/// The query parameters the description lists, as (path, parameter).
fn query_params(doc: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for op in item.as_object().unwrap().values() {
            for p in op["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "query") {
                out.push((path.clone(), p.clone()));
            }
        }
    }
    out
}

/// The values an enum parameter's schema lists (also inside oneOf/anyOf).
fn enum_values(schema: &Value) -> Vec<String> {
    let mut found: Vec<String> =
        schema["enum"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
    for key in ["oneOf", "anyOf", "allOf"] {
        for alt in schema[key].as_array().into_iter().flatten() {
            found.extend(enum_values(alt));
        }
    }
    found
}

#[tokio::test]
async fn parameters_are_described_as_the_server_checks_them() {
    let file = common::sample_file("openapi-params", 5, 4, 40);
    let srv = common::start_audited(&file, &common::fresh_audit_db("openapi-params"), Layer::default()).await;
    let base = srv.base.clone();
    let doc: Value = reqwest::get(format!("{base}/api/openapi.json")).await.unwrap().json().await.unwrap();
    let params = query_params(&doc);
    assert!(params.len() >= 15, "{params:?}");

    // Enums list their values; each is accepted, and nothing else.
    for (name, want) in [
        ("method", vec!["classic", "robust"]),
        ("direction", vec!["both", "drops", "spikes"]),
        ("metric", vec!["amount", "count"]),
        ("split", vec!["channel", "payment_method", "segment"]),
    ] {
        let (_, p) = params.iter().find(|(path, p)| path == "/api/anomalies" && p["name"] == name).unwrap();
        let mut values = enum_values(&p["schema"]);
        values.sort();
        assert_eq!(values, want, "{name}: {p}");
        for v in values.iter().map(String::as_str).chain(["nope"]) {
            let status = reqwest::get(format!("{base}/api/anomalies?{name}={v}")).await.unwrap().status();
            assert_eq!(status.as_u16(), if v == "nope" { 400 } else { 200 }, "{name}={v}");
        }
    }

    // Documented bounds are the server's: each bound passes, one past it not.
    let meta: Value = reqwest::get(format!("{base}/api/meta")).await.unwrap().json().await.unwrap();
    let drill = format!("orderservice={}&date=2024-01-10&", meta["services"][0].as_str().unwrap());
    for (path, given) in [("/api/anomalies", ""), ("/api/transactions", drill.as_str()), ("/api/audit", "")] {
        for (_, p) in params.iter().filter(|(p, _)| p == path) {
            let name = p["name"].as_str().unwrap();
            let (min, max) = (p["schema"]["minimum"].as_f64(), p["schema"]["maximum"].as_f64());
            let cases = [(min, 200), (max, 200), (min.map(|m| m - 1.0), 400), (max.map(|m| m + 1.0), 400)];
            for (v, want) in cases.into_iter().filter_map(|(v, want)| Some((v?, want))) {
                let status = reqwest::get(format!("{base}{path}?{given}{name}={v}")).await.unwrap().status();
                assert_eq!(status.as_u16(), want, "{path} {name}={v}: {p}");
            }
        }
    }
    // A drill-down's `limit` is bounded, and says so.
    let (_, limit) = params.iter().find(|(path, p)| path == "/api/transactions" && p["name"] == "limit").unwrap();
    assert_eq!((limit["schema"]["minimum"].as_f64(), limit["schema"]["maximum"].as_f64()), (Some(1.0), Some(1000.0)));

    // Text parameters, required ones above all, cannot be empty, and the
    // server says so (an empty `from=` is not "the default").
    let is_text =
        |s: &Value| s["type"] == "string" || s["type"].as_array().is_some_and(|t| t.contains(&"string".into()));
    for (path, p) in &params {
        let name = p["name"].as_str().unwrap();
        if is_text(&p["schema"]) && enum_values(&p["schema"]).is_empty() {
            assert_eq!(p["schema"]["minLength"], 1, "{path} {name}: {p}");
        }
        if p["required"] == true {
            assert_eq!(p["schema"]["minLength"], 1, "{path} {name} is required: {p}");
        }
        let resp = reqwest::get(format!("{base}{path}?{name}=")).await.unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{path}?{name}=");
        let body: Value = resp.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{name}` is empty")), "{path}?{name}=: {message}");
    }
    for q in ["from=&to=2024-02-01", "to=%20", "services="] {
        let status = reqwest::get(format!("{base}/api/daily?{q}")).await.unwrap().status();
        assert_eq!(status.as_u16(), 400, "{q}");
    }
}
