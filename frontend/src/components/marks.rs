//! Analysts' marks on flagged days: a marked row's badge, the actions that
//! mark a day expected (with why) or confirmed or take the mark back, and
//! the error when the server did not save one (the list of every current
//! mark is `marked_list`). A stored mark changes the current marks, so the
//! app re-scores in wasm: no round trip for scores.

use leptos::prelude::*;
use leptos::task::spawn_local;
use servicewatch_shared::Day;

use crate::api::{self, Mark, MarkKind, MarkRequest};
use crate::state;

/// The marks' state, shared by the table, the chart and the scoring.
#[derive(Clone, Copy)]
pub struct MarkStore {
    /// The current marks (cleared ones left out); `None` until read, and
    /// the scoring waits for them.
    pub current: RwSignal<Option<Vec<Mark>>>,
    /// Whether this server keeps marks: without, no mark controls.
    pub available: RwSignal<bool>,
    /// Why the last mark was not saved.
    pub error: RwSignal<Option<String>>,
    /// A mark on its way to the server (the actions wait for it).
    pub saving: RwSignal<bool>,
}

impl MarkStore {
    pub fn new() -> MarkStore {
        MarkStore {
            current: RwSignal::new(None),
            available: RwSignal::new(false),
            error: RwSignal::new(None),
            saving: RwSignal::new(false),
        }
    }

    /// Takes the answer of `GET /api/marks`. A server that keeps no marks,
    /// or whose marks could not be read (the app's error panel says so),
    /// leaves no day out and shows no controls.
    pub fn loaded(self, read: Result<Option<Vec<Mark>>, String>) {
        let (available, marks) = match read {
            Ok(Some(marks)) => (true, marks),
            Ok(None) | Err(_) => (false, Vec::new()),
        };
        self.available.set(available);
        self.current.set(Some(marks));
    }

    /// Stores a mark; once the server has it, the current marks change
    /// (and with them the scores). `done` runs when it was saved.
    pub fn save(self, request: MarkRequest, done: impl FnOnce() + 'static) {
        self.saving.set(true);
        self.error.set(None);
        spawn_local(async move {
            match api::post_mark(request).await {
                Ok(mark) => {
                    self.current.update(|c| state::apply_mark(c.get_or_insert_with(Vec::new), mark));
                    done();
                }
                Err(e) => self.error.set(Some(e)),
            }
            self.saving.set(false);
        });
    }

    /// Takes a series-day's mark back (`cleared`): an ordinary day again.
    pub fn undo(self, series: String, date: Day) {
        self.save(MarkRequest { series, date, kind: MarkKind::Cleared, note: String::new() }, || {});
    }
}

/// The badge's word for a mark.
pub fn label(kind: MarkKind) -> &'static str {
    match kind {
        MarkKind::Expected => "Expected",
        MarkKind::Confirmed => "Confirmed",
        MarkKind::Cleared => "Cleared",
    }
}

/// When a mark was set, as a person reads it.
pub fn when(m: &Mark) -> String {
    use chrono::Timelike;
    let t = m.marked_at;
    format!("{} {:02}:{:02} UTC", Day::from_date(t.date_naive()), t.hour(), t.minute())
}

/// What the badge's tooltip says: the note, who marked it and when.
pub fn describe(m: &Mark) -> String {
    let when = when(m);
    let note = m.note.trim();
    if note.is_empty() {
        format!("{} · marked by {} on {when}", label(m.kind), m.marked_by)
    } else {
        format!("{}: {note} · marked by {} on {when}", label(m.kind), m.marked_by)
    }
}

/// A table row's mark: its badge, and what can be done to it.
#[component]
pub fn MarkCell(store: MarkStore, series: String, date: Day) -> impl IntoView {
    let current = {
        let series = series.clone();
        Memo::new(move |_| store.current.with(|m| m.as_deref().and_then(|m| state::mark_of(m, &series, date)).cloned()))
    };
    // The note being written for an `expected` mark (`None`: not writing).
    let note = RwSignal::new(None::<String>);
    let save = {
        let series = series.clone();
        move |kind: MarkKind, text: String| {
            let request = MarkRequest { series: series.clone(), date, kind, note: text };
            // The row may be gone (re-scored) by the time the answer comes.
            store.save(request, move || {
                let _ = note.try_set(None);
            });
        }
    };
    let save_note = {
        let save = save.clone();
        move || {
            let text = note.get_untracked().unwrap_or_default();
            if !text.trim().is_empty() && !store.saving.get_untracked() {
                save(MarkKind::Expected, text.trim().to_string());
            }
        }
    };
    let busy = move || store.saving.get();
    let actions = move || {
        let (save, save_note) = (save.clone(), save_note.clone());
        if note.with(|n| n.is_some()) {
            let save_key = save_note.clone();
            view! {
                <input type="text" class="note" data-testid="mark-note" aria-label="Why this day is expected"
                    placeholder="Why: a promotion, a known outage…" maxlength="2000"
                    prop:value=move || note.get().unwrap_or_default()
                    on:input=move |ev| note.set(Some(event_target_value(&ev)))
                    on:keydown=move |ev: web_sys::KeyboardEvent| match ev.key().as_str() {
                        "Enter" => save_key(),
                        "Escape" => note.set(None),
                        _ => {}
                    } />
                <button type="button" data-testid="mark-save"
                    disabled=move || busy() || note.with(|n| n.as_deref().unwrap_or("").trim().is_empty())
                    on:click=move |_| save_note()>"Save"</button>
                <button type="button" data-testid="mark-cancel" on:click=move |_| note.set(None)>"Cancel"</button>
            }
            .into_any()
        } else if current.with(|m| m.is_some()) {
            view! { <UndoButton store=store series=series.clone() date=date /> }.into_any()
        } else {
            view! {
                <button type="button" data-testid="mark-expected" disabled=busy
                    title="Explained, not a problem (a promotion, a known outage): left out of the baseline"
                    on:click=move |_| note.set(Some(String::new()))>"Expected"</button>
                <button type="button" data-testid="mark-confirmed" disabled=busy
                    title="A real anomaly (fraud): left out of the baseline"
                    on:click=move |_| save(MarkKind::Confirmed, String::new())>"Confirmed"</button>
            }
            .into_any()
        }
    };
    view! {
        // The row opens on a click or Enter: not when its mark is being set.
        <td class="mark" data-testid="mark-cell"
            on:click=|ev| ev.stop_propagation()
            on:keydown=|ev| ev.stop_propagation()>
            {move || current.get().map(|m| view! { <MarkBadge mark=m /> })}
            {actions}
        </td>
    }
}

/// A mark's badge: its kind, with the note, who and when in its tooltip.
#[component]
pub fn MarkBadge(mark: Mark) -> impl IntoView {
    let kind = mark.kind;
    view! {
        <span class="badge" class:expected=kind == MarkKind::Expected class:confirmed=kind == MarkKind::Confirmed
            data-testid="mark-badge" data-kind=format!("{kind:?}").to_ascii_lowercase()
            data-by=mark.marked_by.clone() data-at=mark.marked_at.to_rfc3339()
            title=describe(&mark)>{label(kind)}</span>
    }
}

/// Takes a series-day's mark back (the table's and the marked days' list).
#[component]
pub fn UndoButton(store: MarkStore, series: String, date: Day) -> impl IntoView {
    view! {
        <button type="button" data-testid="mark-undo" disabled=move || store.saving.get()
            title="Take the mark back: an ordinary day again"
            on:click=move |_| store.undo(series.clone(), date)>"Undo"</button>
    }
}

/// Why the last mark was not saved (nothing was).
#[component]
pub fn MarkError(store: MarkStore) -> impl IntoView {
    view! {
        <Show when=move || store.error.with(|e| e.is_some())>
            <div class="error" role="alert" data-testid="mark-error">
                <p>{move || store.error.get().unwrap_or_default()}</p>
                <button type="button" on:click=move |_| store.error.set(None)>"Dismiss"</button>
            </div>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(kind: &str, note: &str) -> Mark {
        serde_json::from_value(serde_json::json!({
            "series": "tyres", "date": "2024-03-09", "kind": kind, "note": note,
            "marked_by": "ana@example.com", "marked_at": "2026-11-25T10:04:59.9Z",
        }))
        .unwrap()
    }

    #[test]
    fn the_badge_says_what_why_who_and_when() {
        assert_eq!(
            describe(&mark("expected", "spring promotion ")),
            "Expected: spring promotion · marked by ana@example.com on 2026-11-25 10:04 UTC"
        );
        assert_eq!(describe(&mark("confirmed", "")), "Confirmed · marked by ana@example.com on 2026-11-25 10:04 UTC");
        assert_eq!((label(MarkKind::Expected), label(MarkKind::Confirmed)), ("Expected", "Confirmed"));
    }
}
