//! Bounces and complaints to a member's VERP return path
//! (`list+bounce-TOKEN@domain`): the token names the list and the member,
//! so a report need not be trusted for who bounced. Scoring as Mailman
//! does: a hard bounce (5.x.x) counts 1, a soft one (4.x.x, a delay) 0.5,
//! at most once a day, starting afresh after 7 quiet days; at 5 the
//! member is disabled, its owner told, and the ledger says so. An ARF
//! complaint (RFC 5965) unsubscribes and suppresses at once.

use crate::bounce::{self, Report, Severity};
use crate::mail;
use crate::token::Purpose;
use crate::{Lists, Refusal, Result, Source, Why};
use mailhost_store::lists::state;
use mailhost_store::{now_ms, NewMessage};

/// What a report to a VERP address did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bounced {
    /// Not a bounce (an autoreply, a delivery report): nothing done.
    Ignored,
    /// Counted; the member's score in halves.
    Counted(i64),
    /// Already counted today.
    Today,
    /// The member reached the threshold and was disabled.
    Disabled,
    /// A complaint: unsubscribed and suppressed.
    Suppressed,
}

impl Lists {
    /// A message to `list+bounce-TOKEN@`.
    pub async fn bounce(&self, tok: &str, raw: &[u8], src: &Source) -> Result<Bounced> {
        let c = self.check(Purpose::Bounce, tok).await?.map_err(|e| {
            Refusal::new(
                Why::Forbidden,
                "R-LIST-1",
                format!("bounce address refused: {e}"),
            )
        })?;
        let Some(list) = self.store.list_get(&c.list).await? else {
            return Ok(Bounced::Ignored);
        };
        let member = c.member.to_ascii_lowercase();
        let (severity, status) = match bounce::parse(raw) {
            None => return Ok(Bounced::Ignored),
            Some(Report::Complaint { feedback_type, .. }) => {
                let mut s = src.clone();
                s.method = "bounce";
                let mut ev = self.event(&list.address, &member, "complaint", &s);
                ev.detail = Some(format!("ARF feedback-type {feedback_type} (RFC 5965)"));
                self.store.consent_append(&ev).await?;
                self.unsubscribe(&list, &member, &s, true).await?;
                return Ok(Bounced::Suppressed);
            }
            Some(Report::Dsn(f)) | Some(Report::Text(f)) => {
                let Some(worst) = f
                    .iter()
                    .find(|x| x.severity == Severity::Hard)
                    .or_else(|| f.first())
                else {
                    return Ok(Bounced::Ignored);
                };
                (worst.severity, worst.status.clone())
            }
        };
        let halves = if severity == Severity::Hard { 2 } else { 1 };
        let now = now_ms();
        let cfg = &self.config.lists;
        let interval = (cfg.bounce_interval.std().as_millis() as i64).max(1);
        let stale = cfg.bounce_stale.std().as_millis() as i64;
        let disable_at = 2 * cfg.bounce_threshold.max(1) as i64;
        let Some(score) = self
            .store
            .list_bounce(list.id, &member, halves, now / interval, now, stale)
            .await?
        else {
            return Ok(Bounced::Today);
        };
        let mut s = src.clone();
        s.method = "bounce";
        let mut ev = self.event(&list.address, &member, "bounce", &s);
        ev.detail = Some(format!("status {status}; score {}", score as f64 / 2.0));
        self.store.consent_append(&ev).await?;
        if score < disable_at {
            return Ok(Bounced::Counted(score));
        }
        let mut ev = self.event(&list.address, &member, "disabled", &s);
        ev.detail = Some(format!(
            "bounce score {} reached {}",
            score as f64 / 2.0,
            disable_at / 2
        ));
        let text = format!(
            "{member} was disabled on {}: its mail bounced on too many days (score {}, last status {status}).\nIt stays listed but gets no mail; it may subscribe again to resume.\n",
            list.address,
            score as f64 / 2.0
        );
        let body = mail::notice(
            self,
            &list,
            &list.owner,
            &format!("{member} disabled on {}", list.address),
            &text,
        )
        .map_err(|e| Refusal::new(Why::Internal, "", e))?;
        let mut msg = NewMessage {
            body,
            ..Default::default()
        };
        let cur = Some(state::MEMBER);
        let stmts = mailhost_store::Store::list_transition_stmts(
            list.id,
            &member,
            cur,
            state::DISABLED,
            &ev,
        );
        if self
            .store
            .address_notice(&list.owner, None, &mut msg)
            .await?
        {
            let (out, _) = mailhost_store::audit::with_extra(stmts, self.store.deliver(msg)).await;
            out?;
        } else {
            self.store.batch(stmts).await?;
        }
        Ok(Bounced::Disabled)
    }
}
