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
    let srv = common::start(&file, "", Layer::default()).await;
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
    // The checker itself notices a wrong body.
    let meta_schema = &doc["paths"]["/api/meta"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    let mut errors = Vec::new();
    check(&doc, meta_schema, &serde_json::json!({"table": 5, "first": "2024-02-30", "extra": 1}), "$", &mut errors);
    assert!(errors.len() >= 3, "{errors:?}");

    // Every documented path exists on the server (no 404 for the route itself).
    for path in doc["paths"].as_object().unwrap().keys() {
        let method = doc["paths"][path].as_object().unwrap().keys().next().unwrap().clone();
        let client = reqwest::Client::new();
        let resp =
            client.request(method.to_uppercase().parse().unwrap(), format!("{base}{path}")).send().await.unwrap();
        assert_ne!(resp.status().as_u16(), 404, "{path}");
    }
}
