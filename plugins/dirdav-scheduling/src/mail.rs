//! iMIP (RFC 6047): iTIP messages to people outside the server, by SMTP through the mail
//! server the configuration names. Messages wait in a bounded queue and are handed to
//! the mail server by one task, after the request that made them has been answered: a
//! slow or unreachable mail server never holds up a PUT, and a full queue refuses more.

use std::sync::{Arc, OnceLock};

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::implicit::{Mail, Method, Queued};
use crate::itip::Object;

/// Sends iMIP messages through an SMTP server.
pub(crate) struct Smtp {
    transport: Arc<AsyncSmtpTransport<Tokio1Executor>>,
    /// Who the messages come from (the server's address; replies go to the organizer).
    from: Mailbox,
    /// The queue's sending end; the task that empties it starts with the first message.
    queue: OnceLock<tokio::sync::mpsc::Sender<(String, Message)>>,
    /// How many messages may wait.
    capacity: usize,
}

impl Smtp {
    /// `url` as lettre reads it: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465`.
    /// At most `capacity` messages wait to be sent.
    pub(crate) fn new(url: &str, from: &str, capacity: usize) -> Result<Smtp, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("the SMTP URL {url:?}: {e}"))?
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| format!("the sender address {from:?}: {e}"))?;
        Ok(Smtp {
            transport: Arc::new(transport),
            from,
            queue: OnceLock::new(),
            capacity: capacity.max(1),
        })
    }

    /// The queue, with the task that sends what it holds one message after another.
    fn queue(&self) -> &tokio::sync::mpsc::Sender<(String, Message)> {
        self.queue.get_or_init(|| {
            let (sender, mut waiting) =
                tokio::sync::mpsc::channel::<(String, Message)>(self.capacity);
            let transport = self.transport.clone();
            tokio::spawn(async move {
                while let Some((to, message)) = waiting.recv().await {
                    if let Err(e) = transport.send(message).await {
                        tracing::warn!(to = %to, error = %e, "the mail server refused the iMIP message");
                    }
                }
            });
            sender
        })
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
    fn send(&self, from: &str, to: &str, method: Method, object: &Object) -> Queued {
        let Some(message) = self.message(from, to, method, object) else {
            tracing::warn!(to = %to, "not an address a message can go to");
            return Queued::Refused;
        };
        match self.queue().try_send((to.to_owned(), message)) {
            Ok(()) => Queued::Yes,
            Err(_) => {
                tracing::warn!(to = %to, capacity = self.capacity, "the mail queue is full: the iMIP message is not sent");
                Queued::Full
            }
        }
    }
}
