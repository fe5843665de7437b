//! Workflows as data: the states a tracked item passes through, the moves between them,
//! who may make each move, which moves need a reason, and which states count as done.
//!
//! Every kind of tracked item — an assignment of a directive, a project's milestones, a
//! report filing, an invitation, a request — has one [`Workflow`], a constant value.
//! Judging a move is the same code for all of them: [`Workflow::check`].

/// A state, by its index in its workflow's [`Workflow::states`].
pub type StateId = u8;

/// No workflow has more states than this; counts are arrays of this length.
pub const MAX_STATES: usize = 8;

/// Who is moving an item, relative to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mover {
    /// A secretary or official of the unit the item is conveyed to.
    OwnUnit,
    /// A secretary or official of a unit above the item's unit.
    Above,
    /// The person the item is addressed to (an invitation).
    Addressee,
    /// The person who raised the item (a request), when they have an account.
    Requester,
    /// A secretary or official of the unit that reviews the item (a report's reviewer).
    Reviewer,
}

impl Mover {
    /// Whether this mover works the item itself, rather than overseeing it. A move
    /// refused to a worker is a wrong move (422); to an overseer it is not theirs to
    /// make (403).
    pub fn works(self) -> bool {
        matches!(self, Mover::OwnUnit | Mover::Addressee | Mover::Requester)
    }
}

/// A state of a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    /// The state's name in the API: `in_progress`.
    pub name: &'static str,
    /// Whether an item here counts as done (finished, in operation, accepted, closed).
    pub done: bool,
}

/// One allowed move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub from: StateId,
    pub to: StateId,
    pub by: Mover,
    /// What the move is called where a person makes it: `acknowledge`, `send_back`.
    pub action: &'static str,
    /// The move needs a reason in its note.
    pub reason: bool,
    /// The move returns work for correction (a review's "returned").
    pub returns: bool,
}

/// Why a move is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoveRefusal {
    /// The workflow has no state of that name.
    #[error("{workflow} items have no state {name:?} (their states: {})", .states.join(", "))]
    UnknownState {
        workflow: &'static str,
        name: String,
        states: Vec<&'static str>,
    },
    /// The mover may move the item, but not there from here.
    #[error("an item cannot go from {from} to {to}{}", allowed_hint(.allowed))]
    NotAllowed {
        from: &'static str,
        to: &'static str,
        allowed: Vec<&'static str>,
    },
    /// Only others may make this move (a unit above may only send work back).
    #[error("this move is not yours to make")]
    NotYours,
    #[error("{0}")]
    ReasonRequired(&'static str),
}

fn allowed_hint(allowed: &[&'static str]) -> String {
    if allowed.is_empty() {
        String::new()
    } else {
        format!(" (from here it may go to: {})", allowed.join(", "))
    }
}

/// The states and moves of one kind of tracked item.
#[derive(Debug, PartialEq, Eq)]
pub struct Workflow {
    pub name: &'static str,
    pub states: &'static [State],
    pub moves: &'static [Move],
    /// Where a new item starts.
    pub initial: StateId,
}

impl Workflow {
    pub fn state(&self, name: &str) -> Option<StateId> {
        self.states
            .iter()
            .position(|state| state.name == name)
            .map(|index| index as StateId)
    }

    /// The state's name; `"?"` for an index the workflow does not have.
    pub fn name(&self, state: StateId) -> &'static str {
        self.states.get(state as usize).map_or("?", |s| s.name)
    }

    pub fn is_done(&self, state: StateId) -> bool {
        self.states.get(state as usize).is_some_and(|s| s.done)
    }

    /// A bit per state, set for the done states.
    pub fn done_mask(&self) -> u8 {
        self.states
            .iter()
            .enumerate()
            .filter(|(_, state)| state.done)
            .fold(0, |mask, (index, _)| mask | (1 << index))
    }

    /// Parses a state's name, refusing one the workflow does not have.
    pub fn parse_state(&self, name: &str) -> Result<StateId, MoveRefusal> {
        self.state(name).ok_or_else(|| MoveRefusal::UnknownState {
            workflow: self.name,
            name: name.to_owned(),
            states: self.states.iter().map(|s| s.name).collect(),
        })
    }

    /// The moves from `from` that any of `movers` may make, in the workflow's order.
    pub fn moves_from<'w>(
        &'w self,
        from: StateId,
        movers: &'w [Mover],
    ) -> impl Iterator<Item = &'static Move> + 'w {
        self.moves
            .iter()
            .filter(move |m| m.from == from && movers.contains(&m.by))
    }

    /// The states `movers` may move an item in `from` to.
    pub fn next_states(&self, from: StateId, movers: &[Mover]) -> Vec<StateId> {
        let mut states: Vec<StateId> = Vec::new();
        for m in self.moves_from(from, movers) {
            if !states.contains(&m.to) {
                states.push(m.to);
            }
        }
        states
    }

    /// Judges a move from `from` to `to` by someone who is each of `movers` to the
    /// item, with `note` as the reason. The move made is returned: a mover who is both
    /// the item's own unit and above it makes whichever move the workflow has.
    pub fn check(
        &self,
        from: StateId,
        to: StateId,
        movers: &[Mover],
        note: Option<&str>,
    ) -> Result<&'static Move, MoveRefusal> {
        let Some(made) = self.moves_from(from, movers).find(|m| m.to == to) else {
            if !movers.iter().any(|m| m.works()) {
                return Err(MoveRefusal::NotYours);
            }
            return Err(MoveRefusal::NotAllowed {
                from: self.name(from),
                to: self.name(to),
                allowed: self
                    .next_states(from, movers)
                    .into_iter()
                    .map(|s| self.name(s))
                    .collect(),
            });
        };
        let has_reason = note.is_some_and(|note| !note.trim().is_empty());
        if made.reason && !has_reason {
            return Err(MoveRefusal::ReasonRequired(if made.returns {
                "sending work back needs a reason in the note"
            } else {
                "this move needs a reason in the note"
            }));
        }
        Ok(made)
    }
}

const fn step(from: StateId, to: StateId, by: Mover, action: &'static str) -> Move {
    Move {
        from,
        to,
        by,
        action,
        reason: false,
        returns: false,
    }
}

const fn with_reason(from: StateId, to: StateId, by: Mover, action: &'static str) -> Move {
    Move {
        from,
        to,
        by,
        action,
        reason: true,
        returns: false,
    }
}

const fn send_back(from: StateId, to: StateId, by: Mover) -> Move {
    Move {
        from,
        to,
        by,
        action: "send_back",
        reason: true,
        returns: true,
    }
}

const fn state(name: &'static str) -> State {
    State { name, done: false }
}

const fn done(name: &'static str) -> State {
    State { name, done: true }
}

use Mover::*;

/// An assignment of a directive or a pledge: `conveyed → acknowledged → planned →
/// in_progress → done`, or `blocked` (with a reason) from any unfinished state and
/// back to work; a unit above sends finished work back, with a reason.
pub static DIRECTIVE: Workflow = Workflow {
    name: "directive",
    states: &[
        state("conveyed"),
        state("acknowledged"),
        state("planned"),
        state("in_progress"),
        done("done"),
        state("blocked"),
    ],
    moves: &[
        step(0, 1, OwnUnit, "acknowledge"),
        step(1, 2, OwnUnit, "plan"),
        step(2, 3, OwnUnit, "start"),
        step(3, 4, OwnUnit, "finish"),
        with_reason(0, 5, OwnUnit, "block"),
        with_reason(1, 5, OwnUnit, "block"),
        with_reason(2, 5, OwnUnit, "block"),
        with_reason(3, 5, OwnUnit, "block"),
        step(5, 1, OwnUnit, "resume"),
        step(5, 2, OwnUnit, "resume"),
        step(5, 3, OwnUnit, "resume"),
        send_back(4, 3, Above),
    ],
    initial: 0,
};

/// A programme's project: `planned → ground_broken → under_construction → completed →
/// in_operation`, done in operation; `blocked` needs a reason; a unit above may send a
/// project it does not accept as in operation back to completed, with a reason.
pub static PROJECT: Workflow = Workflow {
    name: "project",
    states: &[
        state("planned"),
        state("ground_broken"),
        state("under_construction"),
        state("completed"),
        done("in_operation"),
        state("blocked"),
    ],
    moves: &[
        step(0, 1, OwnUnit, "break_ground"),
        step(1, 2, OwnUnit, "start_construction"),
        step(2, 3, OwnUnit, "complete"),
        step(3, 4, OwnUnit, "put_in_operation"),
        with_reason(0, 5, OwnUnit, "block"),
        with_reason(1, 5, OwnUnit, "block"),
        with_reason(2, 5, OwnUnit, "block"),
        with_reason(3, 5, OwnUnit, "block"),
        step(5, 0, OwnUnit, "resume"),
        step(5, 1, OwnUnit, "resume"),
        step(5, 2, OwnUnit, "resume"),
        step(5, 3, OwnUnit, "resume"),
        send_back(4, 3, Above),
    ],
    initial: 0,
};

/// A periodic report: filed (`submitted`), then `accepted` by its reviewer or
/// `returned` for correction with a reason, filed again from there.
pub static REPORT: Workflow = Workflow {
    name: "report",
    states: &[state("submitted"), state("returned"), done("accepted")],
    moves: &[
        step(0, 0, OwnUnit, "resubmit"),
        step(1, 0, OwnUnit, "resubmit"),
        step(0, 2, Reviewer, "accept"),
        send_back(0, 1, Reviewer),
    ],
    initial: 0,
};

/// An invitation to an event, addressed to a person: `invited → accepted` or
/// `declined` (with a reason), and `attended` once recorded by the organizer.
pub static INVITATION: Workflow = Workflow {
    name: "invitation",
    states: &[
        state("invited"),
        state("accepted"),
        state("declined"),
        done("attended"),
    ],
    moves: &[
        step(0, 1, Addressee, "accept"),
        with_reason(0, 2, Addressee, "decline"),
        step(2, 1, Addressee, "accept"),
        step(0, 3, Above, "record_attendance"),
        step(1, 3, Above, "record_attendance"),
    ],
    initial: 0,
};

/// A request of the people: `open → acknowledged → in_progress → resolved → closed`,
/// moved by the handling unit or a unit above; the requester closes a resolved
/// request or reopens it.
pub static REQUEST: Workflow = Workflow {
    name: "request",
    states: &[
        state("open"),
        state("acknowledged"),
        state("in_progress"),
        done("resolved"),
        done("closed"),
    ],
    moves: &[
        step(0, 1, OwnUnit, "acknowledge"),
        step(1, 2, OwnUnit, "start"),
        step(2, 3, OwnUnit, "resolve"),
        step(3, 4, OwnUnit, "close"),
        with_reason(3, 0, OwnUnit, "reopen"),
        step(0, 1, Above, "acknowledge"),
        step(1, 2, Above, "start"),
        step(2, 3, Above, "resolve"),
        step(3, 4, Above, "close"),
        step(3, 4, Requester, "close"),
        with_reason(3, 0, Requester, "reopen"),
    ],
    initial: 0,
};

/// Every workflow, for checks that must hold of all of them.
pub static ALL: [&Workflow; 5] = [&DIRECTIVE, &PROJECT, &REPORT, &INVITATION, &REQUEST];

#[cfg(test)]
mod tests {
    use super::*;

    /// What a move should give: allowed, or refused and how.
    #[derive(Debug, PartialEq)]
    enum Expect {
        Allowed,
        Wrong,
        NotYours,
        NeedsReason,
    }
    use Expect::*;

    fn judge(workflow: &Workflow, from: &str, to: &str, movers: &[Mover], note: &str) -> Expect {
        let from = workflow.state(from).expect("a state of the workflow");
        let to = workflow.state(to).expect("a state of the workflow");
        let note = (!note.is_empty()).then_some(note);
        match workflow.check(from, to, movers, note) {
            Ok(_) => Allowed,
            Err(MoveRefusal::NotAllowed { .. }) => Wrong,
            Err(MoveRefusal::NotYours) => NotYours,
            Err(MoveRefusal::ReasonRequired(_)) => NeedsReason,
            Err(other) => panic!("unexpected refusal {other:?}"),
        }
    }

    /// One row of the table: workflow, from, to, movers, note, and what it gives.
    type Case<'a> = (&'a Workflow, &'a str, &'a str, &'a [Mover], &'a str, Expect);

    /// (workflow, from, to, movers, note) → what the workflow says.
    #[test]
    fn moves_are_judged_as_the_tables_say() {
        let own: &[Mover] = &[OwnUnit];
        let above: &[Mover] = &[Above];
        let both: &[Mover] = &[OwnUnit, Above];
        let cases: &[Case<'_>] = &[
            // Directives: step by step, blocked with a reason, sent back from above.
            (&DIRECTIVE, "conveyed", "acknowledged", own, "", Allowed),
            (&DIRECTIVE, "acknowledged", "planned", own, "", Allowed),
            (&DIRECTIVE, "planned", "in_progress", own, "", Allowed),
            (&DIRECTIVE, "in_progress", "done", own, "", Allowed),
            (&DIRECTIVE, "conveyed", "done", own, "", Wrong),
            (&DIRECTIVE, "done", "in_progress", own, "oops", Wrong),
            (&DIRECTIVE, "planned", "blocked", own, "", NeedsReason),
            (&DIRECTIVE, "planned", "blocked", own, "no cement", Allowed),
            (&DIRECTIVE, "blocked", "in_progress", own, "", Allowed),
            (&DIRECTIVE, "blocked", "done", own, "", Wrong),
            (&DIRECTIVE, "done", "blocked", own, "why", Wrong),
            (
                &DIRECTIVE,
                "done",
                "in_progress",
                above,
                "not accepted",
                Allowed,
            ),
            (&DIRECTIVE, "done", "in_progress", above, "", NeedsReason),
            (
                &DIRECTIVE,
                "planned",
                "in_progress",
                above,
                "hurry",
                NotYours,
            ),
            (&DIRECTIVE, "conveyed", "done", above, "", NotYours),
            (&DIRECTIVE, "done", "in_progress", both, "redo", Allowed),
            (&DIRECTIVE, "in_progress", "done", both, "", Allowed),
            // Projects: the milestones in order, done in operation.
            (&PROJECT, "planned", "ground_broken", own, "", Allowed),
            (
                &PROJECT,
                "ground_broken",
                "under_construction",
                own,
                "",
                Allowed,
            ),
            (
                &PROJECT,
                "under_construction",
                "completed",
                own,
                "",
                Allowed,
            ),
            (&PROJECT, "completed", "in_operation", own, "", Allowed),
            (&PROJECT, "planned", "in_operation", own, "", Wrong),
            (
                &PROJECT,
                "under_construction",
                "blocked",
                own,
                "",
                NeedsReason,
            ),
            (
                &PROJECT,
                "under_construction",
                "blocked",
                own,
                "no steel",
                Allowed,
            ),
            (&PROJECT, "blocked", "under_construction", own, "", Allowed),
            (
                &PROJECT,
                "in_operation",
                "completed",
                above,
                "not yet",
                Allowed,
            ),
            (&PROJECT, "planned", "ground_broken", above, "", NotYours),
            // Reports: filed again, accepted or returned by the reviewer.
            (&REPORT, "submitted", "accepted", &[Reviewer], "", Allowed),
            (
                &REPORT,
                "submitted",
                "returned",
                &[Reviewer],
                "",
                NeedsReason,
            ),
            (
                &REPORT,
                "submitted",
                "returned",
                &[Reviewer],
                "late",
                Allowed,
            ),
            (&REPORT, "returned", "submitted", own, "", Allowed),
            (&REPORT, "submitted", "accepted", own, "", Wrong),
            (&REPORT, "accepted", "submitted", own, "", Wrong),
            // Invitations: the person answers; the organizer records attendance.
            (
                &INVITATION,
                "invited",
                "accepted",
                &[Addressee],
                "",
                Allowed,
            ),
            (
                &INVITATION,
                "invited",
                "declined",
                &[Addressee],
                "",
                NeedsReason,
            ),
            (&INVITATION, "invited", "attended", &[Addressee], "", Wrong),
            (&INVITATION, "accepted", "attended", above, "", Allowed),
            // Requests: the handler works it; the requester closes or reopens.
            (&REQUEST, "open", "acknowledged", own, "", Allowed),
            (&REQUEST, "resolved", "closed", &[Requester], "", Allowed),
            (
                &REQUEST,
                "resolved",
                "open",
                &[Requester],
                "still broken",
                Allowed,
            ),
            (&REQUEST, "resolved", "open", &[Requester], "", NeedsReason),
            (&REQUEST, "open", "resolved", &[Requester], "", Wrong),
            (&REQUEST, "open", "acknowledged", above, "", Allowed),
        ];
        for (workflow, from, to, movers, note, expected) in cases {
            assert_eq!(
                &judge(workflow, from, to, movers, note),
                expected,
                "{} {from} → {to} by {movers:?} with {note:?}",
                workflow.name
            );
        }
    }

    #[test]
    fn every_workflow_is_well_formed() {
        for workflow in ALL {
            assert!(workflow.states.len() <= MAX_STATES, "{}", workflow.name);
            assert!((workflow.initial as usize) < workflow.states.len());
            assert!(
                workflow.states.iter().any(|s| s.done),
                "{} has no done state",
                workflow.name
            );
            for m in workflow.moves {
                assert!(
                    (m.from as usize) < workflow.states.len(),
                    "{}: {m:?}",
                    workflow.name
                );
                assert!(
                    (m.to as usize) < workflow.states.len(),
                    "{}: {m:?}",
                    workflow.name
                );
                assert!(
                    !m.returns || m.reason,
                    "{}: sending back needs a reason",
                    workflow.name
                );
            }
            for (index, state) in workflow.states.iter().enumerate() {
                assert_eq!(workflow.state(state.name), Some(index as StateId));
            }
        }
    }

    #[test]
    fn an_unknown_state_is_named_with_the_states_there_are() {
        let refusal = PROJECT.parse_state("finished").unwrap_err();
        assert!(
            refusal.to_string().contains("planned, ground_broken"),
            "{refusal}"
        );
    }

    #[test]
    fn wrong_moves_say_where_the_item_may_go() {
        let refusal = DIRECTIVE.check(0, 4, &[OwnUnit], None).unwrap_err();
        assert_eq!(
            refusal,
            MoveRefusal::NotAllowed {
                from: "conveyed",
                to: "done",
                allowed: vec!["acknowledged", "blocked"]
            }
        );
    }
}
