//! `EMAIL`, as ElasticJob's: mails the failure through an SMTP server.
//! Props (ElasticJob's keys): `email.host` (required), `email.port`
//! (default 465 with SSL, 25 without), `email.username` and
//! `email.password` (both or neither: there are no default credentials),
//! `email.useSsl` (default true: TLS from the first byte, SMTPS),
//! `email.subject` (default `ElasticJob error message`), `email.from` and
//! `email.to` (required), `email.cc`, `email.bcc` (each a comma-separated
//! list), `email.debug` (log every mail sent at INFO).
//!
//! Unlike ElasticJob, without SSL the connection still upgrades with
//! STARTTLS when the server offers it, and the body is plain text (an error
//! message is not HTML).

use super::Failure;
use crate::error::{Error, Result};
use crate::props::Props;
use lettre::message::{header::ContentType, Mailbox, Mailboxes};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// `email.host`: the SMTP server (required).
pub const HOST_PROP: &str = "email.host";
/// `email.port`.
pub const PORT_PROP: &str = "email.port";
/// `email.username`.
pub const USERNAME_PROP: &str = "email.username";
/// `email.password`.
pub const PASSWORD_PROP: &str = "email.password";
/// `email.useSsl`.
pub const USE_SSL_PROP: &str = "email.useSsl";
/// `email.subject`.
pub const SUBJECT_PROP: &str = "email.subject";
/// `email.from` (required).
pub const FROM_PROP: &str = "email.from";
/// `email.to` (required).
pub const TO_PROP: &str = "email.to";
/// `email.cc`.
pub const CC_PROP: &str = "email.cc";
/// `email.bcc`.
pub const BCC_PROP: &str = "email.bcc";
/// `email.debug`.
pub const DEBUG_PROP: &str = "email.debug";

/// How long one SMTP command may wait for the server.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The `EMAIL` notifier.
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
    subject: String,
    from: Mailbox,
    to: Mailboxes,
    cc: Mailboxes,
    bcc: Mailboxes,
    debug: bool,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credentials stay out of logs.
        f.debug_struct("Email").field("server", &self.server).field("from", &self.from).field("to", &self.to).finish()
    }
}

fn mailboxes(props: Props<'_>, key: &str, required: bool) -> Result<Mailboxes> {
    let text = if required { props.required(key, "for jobErrorHandlerType EMAIL")? } else { props.get(key).unwrap_or_default() };
    let mut list = Mailboxes::new();
    for address in text.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let mailbox: Mailbox = address.parse().map_err(|e| Error::invalid(key, text, format!("`{address}` is not a mail address: {e}")))?;
        list.push(mailbox);
    }
    Ok(list)
}

impl Email {
    pub(super) fn from_props(props: Props<'_>) -> Result<Self> {
        let why = "for jobErrorHandlerType EMAIL";
        let host = props.required(HOST_PROP, why)?;
        let use_ssl = props.flag(USE_SSL_PROP, true)?;
        let port = match props.get(PORT_PROP) {
            None => if use_ssl { 465 } else { 25 },
            Some(text) => match text.parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => return Err(Error::invalid(PORT_PROP, text, "must be a port number from 1 to 65535")),
            },
        };
        let tls_parameters =
            TlsParameters::new(host.to_string()).map_err(|e| Error::invalid(HOST_PROP, host, format!("cannot set up TLS for it: {e}")))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(if use_ssl { Tls::Wrapper(tls_parameters) } else { Tls::Opportunistic(tls_parameters) })
            .timeout(Some(SMTP_TIMEOUT));
        match (props.get(USERNAME_PROP), props.0.get(PASSWORD_PROP).filter(|p| !p.is_empty())) {
            (Some(user), Some(password)) => builder = builder.credentials(Credentials::new(user.to_string(), password.clone())),
            (None, None) => {}
            (Some(user), None) => return Err(Error::invalid(PASSWORD_PROP, "", format!("must be set with {USERNAME_PROP} `{user}`"))),
            (None, Some(_)) => return Err(Error::invalid(USERNAME_PROP, "", format!("must be set with {PASSWORD_PROP}"))),
        }
        let from_text = props.required(FROM_PROP, why)?;
        let from = from_text.parse().map_err(|e| Error::invalid(FROM_PROP, from_text, format!("is not a mail address: {e}")))?;
        Ok(Email {
            transport: builder.build(),
            server: format!("{host}:{port}"),
            subject: props.get(SUBJECT_PROP).unwrap_or("ElasticJob error message").to_string(),
            from,
            to: mailboxes(props, TO_PROP, true)?,
            cc: mailboxes(props, CC_PROP, false)?,
            bcc: mailboxes(props, BCC_PROP, false)?,
            debug: props.flag(DEBUG_PROP, false)?,
        })
    }

    pub(super) async fn send(&self, failure: &Failure) -> std::result::Result<(), String> {
        let mut message = Message::builder().from(self.from.clone()).subject(self.subject.clone()).header(ContentType::TEXT_PLAIN);
        for to in self.to.iter() {
            message = message.to(to.clone());
        }
        for cc in self.cc.iter() {
            message = message.cc(cc.clone());
        }
        for bcc in self.bcc.iter() {
            message = message.bcc(bcc.clone());
        }
        let message = message.body(failure.text()).map_err(|e| format!("cannot build the mail: {e}"))?;
        let envelope = message.envelope().clone();
        let answer = self.transport.send(message).await.map_err(|e| format!("SMTP server {}: {e}", self.server))?;
        if self.debug {
            tracing::info!(server = %self.server, ?envelope, "error mail sent: {:?}", answer.message().collect::<Vec<_>>());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{config, failure, notifier};
    use super::super::ErrorHandler;
    use zk_harness::SmtpSink;

    #[tokio::test]
    async fn mails_the_failure_with_credentials_and_every_recipient() {
        let sink = SmtpSink::start();
        let port = sink.port().to_string();
        let email = notifier(
            "EMAIL",
            &[
                ("email.host", "127.0.0.1"),
                ("email.port", &port),
                ("email.useSsl", "false"),
                ("email.username", "ops"),
                ("email.password", "pa ss"),
                ("email.from", "Jobs <jobs@example.test>"),
                ("email.to", "a@example.test, b@example.test"),
                ("email.cc", "c@example.test"),
                ("email.bcc", "d@example.test"),
                ("email.subject", "job failed"),
            ],
        );
        email.send(&failure()).await.unwrap();
        let mails = sink.wait_for(1, std::time::Duration::from_secs(5));
        let mail = &mails[0];
        assert_eq!(mail.auth, Some(("ops".to_string(), "pa ss".to_string())));
        assert_eq!(mail.from, "jobs@example.test");
        assert_eq!(mail.to, ["a@example.test", "b@example.test", "c@example.test", "d@example.test"]);
        assert!(mail.data.contains("Subject: job failed"), "{}", mail.data);
        assert!(mail.data.contains("To: a@example.test, b@example.test"), "{}", mail.data);
        assert!(mail.data.contains("Cc: c@example.test"), "{}", mail.data);
        assert!(!mail.data.contains("d@example.test"), "Bcc stays out of the headers: {}", mail.data);
        assert!(mail.data.contains("Job 'orders' item 3") && mail.data.contains("disk full"), "{}", mail.data);
    }

    #[tokio::test]
    async fn without_credentials_no_login_is_tried_and_the_default_subject_is_used() {
        let sink = SmtpSink::start();
        let port = sink.port().to_string();
        let email = notifier(
            "EMAIL",
            &[("email.host", "127.0.0.1"), ("email.port", &port), ("email.useSsl", "false"), ("email.from", "j@example.test"), ("email.to", "o@example.test")],
        );
        email.send(&failure()).await.unwrap();
        let mail = &sink.wait_for(1, std::time::Duration::from_secs(5))[0];
        assert_eq!(mail.auth, None);
        assert!(mail.data.contains("Subject: ElasticJob error message"), "{}", mail.data);
    }

    #[test]
    fn bad_settings_are_named() {
        let base = [("email.host", "127.0.0.1"), ("email.from", "j@example.test"), ("email.to", "o@example.test")];
        // (props, the key the error names, text the error holds)
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (&[("email.port", "99999")], "email.port", "99999"),
            (&[("email.useSsl", "yes")], "email.useSsl", "yes"),
            (&[("email.to", "o@example.test, not an address")], "email.to", "not an address"),
            (&[("email.from", "nobody")], "email.from", "nobody"),
            (&[("email.username", "ops")], "email.password", "ops"),
            (&[("email.password", "p")], "email.username", "email.password"),
        ];
        for (extra, key, needle) in cases {
            let mut props: Vec<(&str, &str)> = base.iter().filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)).copied().collect();
            props.extend_from_slice(extra);
            let err = ErrorHandler::from_config(&config("EMAIL", &props)).unwrap_err();
            assert!(matches!(&err, crate::Error::InvalidConfig { field, .. } if field == key), "{err:?}");
            assert!(err.to_string().contains(needle), "{err}");
        }
    }
}
