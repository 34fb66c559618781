//! The middleware every request passes: it decides who is asking, refuses
//! whoever cannot say, and refuses state-changing requests another site
//! could have made the browser send (CSRF).
//!
//! - Without users, the console listens on loopback only, and the `Host`
//!   header must name a loopback host too: a web page cannot use DNS
//!   rebinding to reach it under a name of its own.
//! - With users, a request carries a login cookie, HTTP Basic or a bearer
//!   token. Unauthenticated page loads go to `/login`; API calls get 401.
//! - A POST (every operation, login and logout) must not come from another
//!   origin (`Origin` checked when present) and must carry `X-Ejob-Csrf`:
//!   the login's token for cookie logins; any value for HTTP Basic and the
//!   user-less console (a custom header cannot be sent cross-site without a
//!   CORS preflight, which the console never grants). Bearer tokens are
//!   never sent by a browser on its own, so they need neither.

use super::sessions::COOKIE;
use super::{Principal, Role, Via};
use crate::api::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use subtle::ConstantTimeEq;

/// The header operations carry.
pub const CSRF_HEADER: &str = "x-ejob-csrf";

/// Paths anyone may load: the login page and what it needs.
fn is_public(method: &Method, path: &str) -> bool {
    (method == Method::GET && (path == "/login" || path.starts_with("/assets/")))
        || (method == Method::POST && path == "/api/login")
}

/// Authenticates, checks CSRF, hands the [`Principal`] to the handlers and
/// adds the security headers to every answer.
pub async fn guard(State(app): State<AppState>, request: Request, next: Next) -> Response {
    // The body is not `Sync`: only the head is looked at across awaits.
    let (mut head, body) = request.into_parts();
    let mut response = match admit(&app, &head).await {
        Ok(principal) => {
            if let Some(principal) = principal {
                head.extensions.insert(principal);
            }
            next.run(Request::from_parts(head, body)).await
        }
        Err(refusal) => refusal,
    };
    secure(response.headers_mut());
    response
}

async fn admit(app: &AppState, head: &Parts) -> Result<Option<Principal>, Response> {
    let (method, path, headers) = (&head.method, head.uri.path(), &head.headers);
    let Some(auth) = app.auth.as_ref() else {
        if !host_is_loopback(headers) {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "this console runs without users and answers only to a loopback Host (localhost, 127.0.0.1, [::1])").into_response());
        }
        let principal = Principal {
            name: "anonymous".into(),
            role: Role::Operator,
            via: Via::Anonymous,
            csrf: None,
        };
        check_csrf(method, headers, &principal).map_err(IntoResponse::into_response)?;
        return Ok(Some(principal));
    };
    if is_public(method, path) {
        if method == Method::POST {
            same_origin(headers).map_err(IntoResponse::into_response)?;
            if header_text(headers, CSRF_HEADER).map_or(true, str::is_empty) {
                return Err(csrf_refusal().into_response());
            }
        }
        return Ok(None);
    }
    let principal = if let Some(authorization) =
        header_text(headers, header::AUTHORIZATION.as_str())
    {
        let (scheme, value) = authorization.split_once(' ').unwrap_or((authorization, ""));
        let found = match scheme.to_ascii_lowercase().as_str() {
            "bearer" => auth
                .verifier
                .token(value.trim())
                .map(|(name, role)| Principal {
                    name,
                    role,
                    via: Via::Bearer,
                    csrf: None,
                }),
            "basic" => match basic_credentials(value.trim()) {
                Some((name, password)) => {
                    auth.verifier
                        .password(&name, &password)
                        .await
                        .map(|role| Principal {
                            name,
                            role,
                            via: Via::Basic,
                            csrf: None,
                        })
                }
                None => None,
            },
            _ => None,
        };
        match found {
            Some(principal) => principal,
            None => {
                tracing::warn!(path, "console: refused credentials");
                app.metrics.refused_credentials();
                return Err(unauthenticated(headers, "wrong credentials"));
            }
        }
    } else if let Some(session) = cookie(headers, COOKIE).and_then(|id| auth.sessions.get(&id)) {
        Principal {
            name: session.name,
            role: session.role,
            via: Via::Session,
            csrf: Some(session.csrf),
        }
    } else if method == Method::GET && wants_page(headers) {
        return Err(Redirect::to("/login").into_response());
    } else {
        return Err(unauthenticated(
            headers,
            "log in, or give HTTP Basic credentials or a bearer token",
        ));
    };
    check_csrf(method, headers, &principal).map_err(IntoResponse::into_response)?;
    Ok(Some(principal))
}

fn check_csrf(method: &Method, headers: &HeaderMap, principal: &Principal) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || principal.via == Via::Bearer
    {
        return Ok(());
    }
    same_origin(headers)?;
    let given = header_text(headers, CSRF_HEADER).unwrap_or_default();
    let ok = match &principal.csrf {
        Some(expected) => bool::from(given.as_bytes().ct_eq(expected.as_bytes())),
        None => !given.is_empty(),
    };
    if ok {
        Ok(())
    } else {
        Err(csrf_refusal())
    }
}

fn csrf_refusal() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "missing or wrong X-Ejob-Csrf header (operations must come from the console's own page)",
    )
}

/// A request with an `Origin` must come from the console's own origin.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let (Some(origin), Some(host)) = (header_text(headers, "origin"), header_text(headers, "host"))
    else {
        return Ok(());
    };
    let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
    if authority.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("cross-origin request from `{origin}` refused"),
        ))
    }
}

fn unauthenticated(headers: &HeaderMap, why: &str) -> Response {
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        format!("authentication required: {why}"),
    )
    .into_response();
    // The console's own page says so with this header; a browser must not
    // then pop its Basic dialog over the login page.
    if header_text(headers, "x-requested-with").is_none() {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"ejob console\", charset=\"UTF-8\""),
        );
    }
    response
}

fn wants_page(headers: &HeaderMap) -> bool {
    header_text(headers, "accept").is_some_and(|a| a.contains("text/html"))
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn basic_credentials(encoded: &str) -> Option<(String, String)> {
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (name, password) = decoded.split_once(':')?;
    Some((name.to_string(), password.to_string()))
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = header_text(headers, "host") else {
        return false;
    };
    let name = if host.starts_with('[') {
        host.split_once(']')
            .map_or(host, |(h, _)| h)
            .trim_start_matches('[')
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn secure(headers: &mut HeaderMap) {
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "no-referrer");
    set(
        headers,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    set(headers, "cache-control", "no-store");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn loopback_hosts_only() {
        for ok in [
            "127.0.0.1:8899",
            "localhost:80",
            "LOCALHOST",
            "[::1]:8899",
            "127.1.2.3",
        ] {
            assert!(host_is_loopback(&headers(&[("host", ok)])), "{ok}");
        }
        for bad in ["evil.example:8899", "10.0.0.1:80", "[::2]:1"] {
            assert!(!host_is_loopback(&headers(&[("host", bad)])), "{bad}");
        }
        assert!(!host_is_loopback(&HeaderMap::new()));
    }

    #[test]
    fn csrf_rules_follow_how_the_user_came() {
        let session = Principal {
            name: "a".into(),
            role: Role::Operator,
            via: Via::Session,
            csrf: Some("tok".into()),
        };
        let basic = Principal {
            via: Via::Basic,
            csrf: None,
            ..session.clone()
        };
        let bearer = Principal {
            via: Via::Bearer,
            csrf: None,
            ..session.clone()
        };
        let post = Method::POST;
        assert!(check_csrf(&post, &headers(&[("x-ejob-csrf", "tok")]), &session).is_ok());
        assert!(check_csrf(&post, &headers(&[("x-ejob-csrf", "other")]), &session).is_err());
        assert!(check_csrf(&post, &HeaderMap::new(), &session).is_err());
        assert!(check_csrf(&post, &headers(&[("x-ejob-csrf", "1")]), &basic).is_ok());
        assert!(check_csrf(&post, &HeaderMap::new(), &basic).is_err());
        assert!(check_csrf(&post, &HeaderMap::new(), &bearer).is_ok());
        assert!(check_csrf(&Method::GET, &HeaderMap::new(), &session).is_ok());
        let cross = headers(&[
            ("x-ejob-csrf", "tok"),
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:1"),
        ]);
        assert!(check_csrf(&post, &cross, &session).is_err());
        let same = headers(&[
            ("x-ejob-csrf", "tok"),
            ("origin", "http://127.0.0.1:1"),
            ("host", "127.0.0.1:1"),
        ]);
        assert!(check_csrf(&post, &same, &session).is_ok());
    }

    #[test]
    fn cookies_and_basic_credentials_are_read() {
        let h = headers(&[("cookie", "a=1; ejob_session=xyz; b=2")]);
        assert_eq!(cookie(&h, "ejob_session").as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
        assert_eq!(
            basic_credentials("YW5uOnB3OmQ="),
            Some(("ann".into(), "pw:d".into()))
        );
        assert_eq!(basic_credentials("!!"), None);
    }
}
