//! Verification against the store: the whole log (operators), or the chains of one jurisdiction
//! (a procurator), which also checks by counting that no event anywhere is missing.

use super::{Broken, Jurisdiction, Verifier, VerifyReport};
use crate::store::Store;
use crate::Result;

const PAGE: i64 = 5_000;

pub async fn verify_log(store: &dyn Store, scope: Option<&Jurisdiction>) -> Result<VerifyReport> {
    // Read the head first: events appended while verifying lie beyond it.
    let head = store.log_head().await?;
    let Some(scope) = scope else {
        let mut verifier = Verifier::new(Some(1));
        let mut after = 0;
        while after < head {
            let page = store.events_after(after, PAGE.min(head - after)).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            if !page.iter().all(|e| verifier.push(e)) {
                break;
            }
        }
        return Ok(verifier.finish_at(head));
    };
    // Events of other counties are not shown, so their seq gaps are expected; chains are
    // checked link by link and the log as a whole by counting.
    let mut verifier = Verifier::new(None);
    let mut after = 0;
    while after < head {
        let page = store.log_page(scope, &[], after, PAGE).await?;
        if !page.events.iter().all(|e| verifier.push(e)) {
            break;
        }
        after = page.next;
    }
    let mut report = verifier.finish();
    if report.first_broken.is_none() {
        if let Some(seq) = store.first_missing_seq(head).await? {
            let reason = format!("event {seq} is missing from the log (removed, or the log was cut short)");
            report.first_broken = Some(Broken { seq, county: String::new(), reason });
        }
    }
    Ok(report)
}
