//! End-to-end tests of the delivery worker: a real store, the real worker,
//! and an SMTP sink on 127.0.0.1 that the test domains are routed to.

mod common;

use common::sink::{tls_acceptor, Behaviour, Sink};
use common::{config, message, wait_for, Harness};

const ANN: &str = "ann@local.test";

async fn sink() -> Sink {
    Sink::start(Behaviour::default()).await
}

/// The text between "Field: " and the end of its line, for each occurrence.
fn fields<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
        .map(str::trim)
        .collect()
}

#[tokio::test]
async fn body_and_envelope_arrive_exactly_in_one_transaction() {
    for pipelining in [true, false] {
        let s = sink().await;
        if !pipelining {
            s.set(|b| b.ehlo.retain(|e| e != "PIPELINING"));
        }
        let mut h = Harness::new(config(&[("remote.test", s.addr)], &[])).await;
        // Lines that need dot-stuffing, and one that is a lone dot.
        let body = message(
            ANN,
            "bob@remote.test",
            "dots",
            ".leading dot\n..two dots\n.\nmiddle . dot\n.\n",
        );
        h.queue(ANN, &["bob@remote.test", "carol@remote.test"], &body)
            .await;
        h.start();
        wait_for("the message at the sink", || async {
            !s.messages().is_empty()
        })
        .await;
        wait_for("an empty queue", || async {
            h.queue_rows().await.is_empty()
        })
        .await;
        h.stop().await;
        let got = s.messages();
        assert_eq!(got.len(), 1, "one transaction (pipelining {pipelining})");
        assert_eq!(got[0].from, ANN);
        assert_eq!(got[0].rcpts, ["bob@remote.test", "carol@remote.test"]);
        assert_eq!(
            got[0].body, body,
            "the body round-trips through dot-stuffing"
        );
        assert_eq!(s.count("MAIL FROM"), 1);
        assert_eq!(s.count("QUIT"), 1, "the session ends with QUIT");
    }
}

#[tokio::test]
async fn one_connection_carries_several_messages() {
    let s = sink().await;
    let mut h = Harness::new(config(&[("remote.test", s.addr)], &[("per_domain", "1")])).await;
    for i in 0..3 {
        let subject = format!("m{i}");
        h.queue(
            ANN,
            &["bob@remote.test"],
            &message(ANN, "bob@remote.test", &subject, "hi\n"),
        )
        .await;
    }
    h.start();
    wait_for("three messages", || async { s.messages().len() == 3 }).await;
    wait_for("an empty queue", || async {
        h.queue_rows().await.is_empty()
    })
    .await;
    h.stop().await;
    assert_eq!(s.connections(), 1, "the connection is reused");
    // RFC 5321 §3.3: the reply to the end of data ends the transaction.
    assert_eq!(s.count("RSET"), 0, "no RSET after a completed transaction");
    assert!(s.messages().iter().all(|m| m.conn == 1));
}

#[tokio::test]
async fn a_transaction_left_open_is_reset_before_the_next() {
    // The first message's only recipient is refused, so its DATA is
    // refused too and the transaction stays open: the next message on the
    // connection starts with RSET.
    let s = sink().await;
    s.set(|b| {
        b.rcpt
            .insert("nobody@remote.test".into(), "550 5.1.1 no such user".into());
    });
    let mut h = Harness::new(config(&[("remote.test", s.addr)], &[("per_domain", "1")])).await;
    h.queue(
        ANN,
        &["nobody@remote.test"],
        &message(ANN, "nobody@remote.test", "m0", "hi\n"),
    )
    .await;
    h.queue(
        ANN,
        &["bob@remote.test"],
        &message(ANN, "bob@remote.test", "m1", "hi\n"),
    )
    .await;
    h.start();
    wait_for("an empty queue", || async {
        h.queue_rows().await.is_empty()
    })
    .await;
    h.stop().await;
    assert_eq!(s.connections(), 1);
    assert_eq!(s.count("RSET"), 1, "RSET after the open transaction only");
    assert_eq!(s.messages().len(), 1);
    assert_eq!(s.messages()[0].rcpts, ["bob@remote.test"]);
}

#[tokio::test]
async fn temporary_failures_are_retried_then_bounced_to_the_local_sender() {
    let s = sink().await;
    s.set(|b| {
        b.rcpt
            .insert("bob@remote.test".into(), "450 4.2.1 mailbox busy".into());
    });
    let mut h = Harness::new(config(
        &[("remote.test", s.addr)],
        &[("max_queue_time", "\"1s\"")],
    ))
    .await;
    let mb = h.mailbox(ANN).await;
    h.queue(
        ANN,
        &["bob@remote.test"],
        &message(ANN, "bob@remote.test", "busy", "hello\n"),
    )
    .await;
    h.start();
    wait_for("a bounce in the sender's mailbox", || async {
        !h.read_mailbox(mb).await.is_empty()
    })
    .await;
    wait_for("an empty queue", || async {
        h.queue_rows().await.is_empty()
    })
    .await;
    h.stop().await;
    assert!(
        s.count("RCPT TO:<bob@remote.test>") >= 2,
        "retried before giving up"
    );
    assert!(s.messages().is_empty());
    let inbox = h.read_mailbox(mb).await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let dsn = &inbox[0];
    assert!(
        dsn.starts_with("Return-Path: <>\r\nDelivered-To: ann@local.test\r\n"),
        "{dsn}"
    );
    assert_eq!(
        fields(dsn, "Subject")[0],
        "Undelivered Mail Returned to Sender"
    );
    assert_eq!(fields(dsn, "Action"), ["failed"]);
    assert_eq!(fields(dsn, "Status"), ["4.2.1"]);
    assert_eq!(fields(dsn, "Final-Recipient"), ["rfc822; bob@remote.test"]);
    assert_eq!(
        fields(dsn, "Diagnostic-Code"),
        ["smtp; 450 4.2.1 mailbox busy"]
    );
    assert_eq!(fields(dsn, "Auto-Submitted"), ["auto-replied"]);
    assert!(
        dsn.contains("Subject: busy"),
        "the original headers are returned"
    );
}

#[tokio::test]
async fn a_delay_notice_is_sent_once() {
    let s = sink().await;
    s.set(|b| {
        b.rcpt
            .insert("bob@remote.test".into(), "451 4.7.1 greylisted".into());
        b.rcpt
            .insert("carol@remote.test".into(), "451 4.7.1 greylisted".into());
    });
    let mut h = Harness::new(config(
        &[("remote.test", s.addr)],
        &[("delay_warning", "\"300ms\"")],
    ))
    .await;
    let mb = h.mailbox(ANN).await;
    h.queue(
        ANN,
        &["bob@remote.test", "carol@remote.test"],
        &message(ANN, "bob@remote.test", "late", "x\n"),
    )
    .await;
    h.start();
    wait_for("a delay notice", || async {
        !h.read_mailbox(mb).await.is_empty()
    })
    .await;
    // Several more attempts after the notice.
    let seen = s.count("RCPT TO:<bob@remote.test>");
    wait_for("more attempts", || async {
        s.count("RCPT TO:<bob@remote.test>") >= seen + 3
    })
    .await;
    h.stop().await;
    let inbox = h.read_mailbox(mb).await;
    assert_eq!(inbox.len(), 1, "one notice for the message, once");
    let dsn = &inbox[0];
    assert_eq!(
        fields(dsn, "Subject")[0],
        "Delayed Mail (still being retried)"
    );
    assert_eq!(fields(dsn, "Action"), ["delayed", "delayed"]);
    assert_eq!(
        fields(dsn, "Final-Recipient").len(),
        2,
        "both recipients in one notice"
    );
    assert_eq!(fields(dsn, "Will-Retry-Until").len(), 2);
    let rows = h.queue_rows().await;
    assert_eq!(rows.len(), 2, "still queued");
    assert!(rows.iter().all(|r| r.warned && r.attempts >= 2), "{rows:?}");
}

#[tokio::test]
async fn a_permanent_failure_bounces_at_once_and_the_rest_is_delivered() {
    let s = sink().await;
    s.set(|b| {
        b.rcpt
            .insert("nobody@remote.test".into(), "550 5.1.1 no such user".into());
    });
    let mut h = Harness::new(config(&[("remote.test", s.addr)], &[])).await;
    let mb = h.mailbox(ANN).await;
    h.queue(
        ANN,
        &["nobody@remote.test", "bob@remote.test"],
        &message(ANN, "bob@remote.test", "hi", "x\n"),
    )
    .await;
    h.start();
    wait_for("a bounce", || async {
        !h.read_mailbox(mb).await.is_empty()
    })
    .await;
    wait_for("an empty queue", || async {
        h.queue_rows().await.is_empty()
    })
    .await;
    h.stop().await;
    assert_eq!(
        s.count("RCPT TO:<nobody@remote.test>"),
        1,
        "no retry after 5xx"
    );
    assert_eq!(s.messages()[0].rcpts, ["bob@remote.test"]);
    let dsn = &h.read_mailbox(mb).await[0];
    assert_eq!(
        fields(dsn, "Final-Recipient"),
        ["rfc822; nobody@remote.test"]
    );
    assert_eq!(fields(dsn, "Status"), ["5.1.1"]);
    assert_eq!(fields(dsn, "Remote-MTA"), ["dns; 127.0.0.1"]);
}

#[tokio::test]
async fn a_bounce_to_a_remote_sender_goes_out_with_the_null_sender() {
    let s = sink().await;
    s.set(|b| {
        b.data_end = None;
        b.rcpt
            .insert("nobody@remote.test".into(), "550 5.1.1 no such user".into());
    });
    let routes = [("remote.test", s.addr), ("elsewhere.test", s.addr)];
    let mut h = Harness::new(config(&routes, &[])).await;
    h.queue(
        "zed@elsewhere.test",
        &["nobody@remote.test"],
        &message("zed@elsewhere.test", "nobody@remote.test", "q", "x\n"),
    )
    .await;
    h.start();
    wait_for("the bounce at the sink", || async {
        !s.messages().is_empty()
    })
    .await;
    wait_for("an empty queue", || async {
        h.queue_rows().await.is_empty()
    })
    .await;
    h.stop().await;
    let got = s.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].from.as_str(), got[0].rcpts.as_slice()),
        ("", &["zed@elsewhere.test".to_string()][..])
    );
    let text = String::from_utf8_lossy(&got[0].body);
    assert_eq!(fields(&text, "Action"), ["failed"]);
}

#[tokio::test]
async fn a_failing_null_sender_message_gets_no_notice() {
    let s = sink().await;
    s.set(|b| {
        b.rcpt
            .insert("nobody@remote.test".into(), "550 5.1.1 no such user".into());
    });
    let mut h = Harness::new(config(&[("remote.test", s.addr)], &[])).await;
    h.queue(
        "",
        &["nobody@remote.test"],
        &message(
            "MAILER-DAEMON@local.test",
            "nobody@remote.test",
            "dsn",
            "x\n",
        ),
    )
    .await;
    h.start();
    wait_for("the refusal", || async {
        s.count("RCPT TO:<nobody@remote.test>") == 1
    })
    .await;
    wait_for("an empty queue", || async {
        h.queue_rows().await.is_empty()
    })
    .await;
    h.stop().await;
    assert_eq!(s.count("MAIL FROM:<>"), 1);
    assert!(
        h.queue_rows().await.is_empty(),
        "no bounce of a bounce was queued"
    );
}

/// A peer that misbehaves on its first connection only: the message is
/// deferred, then delivered once on the retry.
async fn misbehaves_once(set: impl FnOnce(&mut Behaviour), timeout: &str) {
    let s = sink().await;
    s.set(set);
    let mut h = Harness::new(config(
        &[("remote.test", s.addr)],
        &[("command_timeout", timeout)],
    ))
    .await;
    let body = message(ANN, "bob@remote.test", "retry", "x\n");
    h.queue(ANN, &["bob@remote.test"], &body).await;
    h.start();
    wait_for("delivery on a retry", || async { !s.messages().is_empty() }).await;
    wait_for("an empty queue", || async {
        h.queue_rows().await.is_empty()
    })
    .await;
    h.stop().await;
    let got = s.messages();
    assert_eq!(got.len(), 1, "delivered once");
    assert!(got[0].conn >= 2, "on a later connection");
    assert_eq!(got[0].body, body);
}

#[tokio::test]
async fn a_hanging_peer_times_out_and_is_retried() {
    misbehaves_once(|b| b.hang_on = Some(("DATA".into(), 1)), "\"300ms\"").await;
}

#[tokio::test]
async fn a_connection_dropped_mid_data_is_retried() {
    misbehaves_once(|b| b.drop_mid_data = 1, "\"2s\"").await;
}

#[tokio::test]
async fn a_garbage_reply_is_retried() {
    misbehaves_once(|b| b.garbage = 1, "\"2s\"").await;
}

#[tokio::test]
async fn starttls_is_used_when_offered() {
    let s = Sink::start(Behaviour {
        tls: Some(tls_acceptor()),
        ..Behaviour::default()
    })
    .await;
    let mut h = Harness::new(config(&[("remote.test", s.addr)], &[])).await;
    let body = message(ANN, "bob@remote.test", "tls", "secret\n");
    h.queue(ANN, &["bob@remote.test"], &body).await;
    h.start();
    wait_for("the message", || async { !s.messages().is_empty() }).await;
    h.stop().await;
    let got = s.messages();
    assert!(got[0].tls, "sent over TLS");
    assert_eq!(got[0].body, body);
    assert_eq!(s.count("EHLO"), 2, "EHLO again after STARTTLS");
}

#[tokio::test]
async fn a_failed_handshake_falls_back_to_plaintext() {
    let s = Sink::start(Behaviour {
        broken_tls: true,
        ..Behaviour::default()
    })
    .await;
    let mut h = Harness::new(config(&[("remote.test", s.addr)], &[])).await;
    h.queue(
        ANN,
        &["bob@remote.test"],
        &message(ANN, "bob@remote.test", "tls", "x\n"),
    )
    .await;
    h.start();
    wait_for("the message", || async { !s.messages().is_empty() }).await;
    h.stop().await;
    let got = s.messages();
    assert!(!got[0].tls);
    assert_eq!(
        (got[0].conn, s.count("STARTTLS")),
        (2, 1),
        "the same host again, without STARTTLS"
    );
}

#[tokio::test]
async fn content_the_peer_cannot_take_is_returned_not_converted() {
    // 8-bit body to a server without 8BITMIME (RFC 6152 §3), and a message
    // over the peer's SIZE (RFC 1870).
    let s = sink().await;
    s.set(|b| b.ehlo = vec!["PIPELINING".into(), "SIZE 400".into()]);
    let mut h = Harness::new(config(&[("remote.test", s.addr)], &[])).await;
    let mb = h.mailbox(ANN).await;
    h.queue(
        ANN,
        &["bob@remote.test"],
        &message(ANN, "bob@remote.test", "eight", "caf\u{e9}\n"),
    )
    .await;
    h.queue(
        ANN,
        &["bob@remote.test"],
        &message(ANN, "bob@remote.test", "big", &"x".repeat(500)),
    )
    .await;
    h.start();
    wait_for("two bounces", || async {
        h.read_mailbox(mb).await.len() == 2
    })
    .await;
    wait_for("an empty queue", || async {
        h.queue_rows().await.is_empty()
    })
    .await;
    h.stop().await;
    assert_eq!(s.count("MAIL FROM"), 0, "nothing was sent");
    let mut statuses: Vec<String> = Vec::new();
    for dsn in h.read_mailbox(mb).await {
        statuses.extend(fields(&dsn, "Status").iter().map(|s| s.to_string()));
    }
    statuses.sort();
    assert_eq!(statuses, ["5.3.4", "5.6.3"]);
}

#[tokio::test]
async fn a_looping_message_fails_without_being_sent() {
    let s = sink().await;
    let mut h = Harness::new(config(&[("remote.test", s.addr)], &[("max_received", "3")])).await;
    let mb = h.mailbox(ANN).await;
    let mut body =
        b"Received: from a\r\nReceived: from b\r\nReceived: from c\r\nReceived: from d\r\n"
            .to_vec();
    body.extend(message(ANN, "bob@remote.test", "loop", "x\n"));
    h.queue(ANN, &["bob@remote.test"], &body).await;
    h.start();
    wait_for("a bounce", || async {
        !h.read_mailbox(mb).await.is_empty()
    })
    .await;
    h.stop().await;
    assert_eq!(s.connections(), 0);
    assert_eq!(fields(&h.read_mailbox(mb).await[0], "Status"), ["5.4.6"]);
}

#[tokio::test]
async fn an_unreachable_dns_server_defers_without_bouncing() {
    // No route for the domain: MX lookup through a DNS server on a loopback
    // port where nothing listens.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dns = format!("\"127.0.0.1:{port}\"");
    let mut h = Harness::new(config(
        &[],
        &[("dns_server", &dns), ("connect_timeout", "\"1s\"")],
    ))
    .await;
    let mb = h.mailbox(ANN).await;
    h.queue(
        ANN,
        &["bob@nowhere.test"],
        &message(ANN, "bob@nowhere.test", "dns", "x\n"),
    )
    .await;
    h.start();
    wait_for("a deferral", || async {
        h.queue_rows()
            .await
            .first()
            .is_some_and(|r| r.attempts >= 1)
    })
    .await;
    h.stop().await;
    let row = &h.queue_rows().await[0];
    assert!(
        row.last_error.as_deref().unwrap_or("").contains("DNS"),
        "{row:?}"
    );
    assert!(
        h.read_mailbox(mb).await.is_empty(),
        "no bounce for a temporary DNS failure"
    );
}

#[tokio::test]
async fn rows_leased_by_a_crashed_run_are_sent_after_restart() {
    let s = sink().await;
    let mut h = Harness::new(config(&[("remote.test", s.addr)], &[])).await;
    h.queue(
        ANN,
        &["bob@remote.test"],
        &message(ANN, "bob@remote.test", "crash", "x\n"),
    )
    .await;
    // A run of this node claimed the row and died before recording an
    // outcome: the lease would hold for an hour.
    let claimed = h
        .store
        .queue_claim("n1", std::time::Duration::from_secs(3600), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    h.start();
    wait_for("the message", || async { !s.messages().is_empty() }).await;
    wait_for("an empty queue", || async {
        h.queue_rows().await.is_empty()
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn shutdown_abandons_a_hanging_transaction_and_keeps_the_row() {
    let s = sink().await;
    s.set(|b| b.hang_on = Some(("DATA".into(), usize::MAX)));
    let mut h = Harness::new(config(
        &[("remote.test", s.addr)],
        &[("command_timeout", "\"60s\"")],
    ))
    .await;
    h.queue(
        ANN,
        &["bob@remote.test"],
        &message(ANN, "bob@remote.test", "hang", "x\n"),
    )
    .await;
    h.start();
    wait_for("DATA to hang", || async { s.count("DATA") == 1 }).await;
    h.stop().await; // returns within the shutdown wait, not the 60 s timeout
    let rows = h.queue_rows().await;
    assert_eq!(
        (rows.len(), rows[0].attempts),
        (1, 0),
        "the row stays, leased, for the next run"
    );
}
