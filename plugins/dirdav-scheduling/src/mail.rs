//! iMIP (RFC 6047): iTIP messages to people outside the server, by SMTP through the mail
//! server the configuration names.

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::implicit::{Mail, Method};
use crate::itip::Object;

/// Sends iMIP messages through an SMTP server.
pub(crate) struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// Who the messages come from (the server's address; replies go to the organizer).
    from: Mailbox,
}

impl Smtp {
    /// `url` as lettre reads it: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465`.
    pub(crate) fn new(url: &str, from: &str) -> Result<Smtp, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("the SMTP URL {url:?}: {e}"))?
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| format!("the sender address {from:?}: {e}"))?;
        Ok(Smtp { transport, from })
    }

    fn message(&self, from: &str, to: &str, method: Method, object: &Object) -> Option<Message> {
        let address = |a: &str| {
            a.get(..7)
                .filter(|s| s.eq_ignore_ascii_case("mailto:"))
                .map(|_| a[7..].to_owned())
        };
        let to: Mailbox = address(to)?.parse().ok()?;
        let sender: Option<Mailbox> = address(from).and_then(|a| a.parse().ok());
        let summary = object.summary.as_deref().unwrap_or("(no title)");
        let (subject, words) = match method {
            Method::Request => (
                format!("Invitation: {summary}"),
                format!("You are invited to \"{summary}\"."),
            ),
            Method::Cancel => (
                format!("Cancelled: {summary}"),
                format!("\"{summary}\" has been cancelled."),
            ),
            Method::Reply => {
                let answer = object
                    .attendees
                    .first()
                    .map_or("NEEDS-ACTION", |a| a.partstat.as_str());
                (
                    format!("Reply ({answer}): {summary}"),
                    format!("An answer to \"{summary}\": {answer}."),
                )
            }
        };
        let calendar = ContentType::parse(&format!(
            "text/calendar; method={}; charset=utf-8",
            method.name()
        ))
        .ok()?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject);
        if let Some(sender) = sender {
            builder = builder.reply_to(sender);
        }
        builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::plain(words))
                    .singlepart(
                        SinglePart::builder()
                            .header(calendar)
                            .body(object.text(Some(method.name()))),
                    ),
            )
            .ok()
    }
}

impl Mail for Smtp {
    fn send<'a>(
        &'a self,
        from: &'a str,
        to: &'a str,
        method: Method,
        object: &'a Object,
    ) -> dirdav_plugin::BoxFuture<'a, bool> {
        Box::pin(async move {
            let Some(message) = self.message(from, to, method, object) else {
                tracing::warn!(%to, "not an address a message can go to");
                return false;
            };
            match self.transport.send(message).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(%to, error = %e, "the mail server refused the iMIP message");
                    false
                }
            }
        })
    }
}
