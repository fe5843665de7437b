#!/usr/bin/env python3
"""Writes authorization.csv: the expected answer of every route to every kind of caller.

The rules below restate SPEC.md section 2, independently of the server's code:
- The callers hold their posts in one county, K1 ("own"). Relations name the unit a
  request is about, seen from K1: child (a primary under K1), deeper (a cell under it),
  parent (the province above K1), sibling (another county of that province),
  sibling_child (a primary of that county), other_province (another province).
- A secretary or an official of K1 reads and acts on K1 and everything under it. Taking
  a unit out of its place (moving, removing) needs authority over its parent.
- A member of K1 reads K1 itself, nothing under it, and changes nothing.
- Nothing else is visible: a unit out of sight answers 404 in a path, and "unknown" (422)
  when named in a body, exactly as a unit that does not exist.
- Without a session every route but sign-in answers 401. The administrator may do all.

A people import names the unit with a post whose role is not valid, so that an allowed
import is refused for that row (422) and a unit out of sight is reported unknown (422).
Requests are chosen so that an allowed write either adds something harmless or fails on
a rule checked after authorization (a duplicate code, an unknown person), so that every
row can run against the same organization. Run this script after changing a rule or a
route, and review the difference.
"""
import csv
import os

ROLES = ["admin", "secretary", "official", "member", "anonymous"]
RELATIONS = ["own", "child", "deeper", "parent", "sibling", "sibling_child", "other_province"]
INSIDE = {"own", "child", "deeper"}
KIND = {"own": "city_county", "child": "primary", "deeper": "cell", "parent": "province",
        "sibling": "city_county", "sibling_child": "primary", "other_province": "province"}


def sees(role, relation):
    """Whether the caller may read the unit at this relation."""
    if role == "admin":
        return True
    if role in ("secretary", "official"):
        return relation in INSIDE
    if role == "member":
        return relation == "own"
    return False


def writes(role, relation):
    return role == "admin" or (role in ("secretary", "official") and relation in INSIDE)


def takes_out(role, relation):
    """Authority over the unit's parent: the own unit's parent is the province."""
    return role == "admin" or (role in ("secretary", "official") and relation in ("child", "deeper"))


def path_read(role, relation, allowed="200"):
    if role == "anonymous":
        return "401"
    return allowed if sees(role, relation) else "404"


def path_write(role, relation, allowed):
    if role == "anonymous":
        return "401"
    if not sees(role, relation):
        return "404"
    return allowed if writes(role, relation) else "403"


def reference(role, relation, allowed, unknown):
    """A unit named in a body and written under."""
    if role == "anonymous":
        return "401"
    if not sees(role, relation):
        return f"422 {unknown}"
    return allowed if writes(role, relation) else "403"


def directive_visible(role, relation):
    """A directive is seen where its issuer is seen, and where it was conveyed to: the
    province's directive reaches the caller's county."""
    return sees(role, relation) or (role in ("secretary", "official", "member") and relation == "parent")


def directive_read(role, relation):
    if role == "anonymous":
        return "401"
    return "200" if directive_visible(role, relation) else "404"


def directive_write(role, relation, allowed):
    if role == "anonymous":
        return "401"
    if not directive_visible(role, relation):
        return "404"
    return allowed if writes(role, relation) else "403"


def guidance(role, relation):
    """Guidance from the issuer itself, named in the body."""
    if role == "anonymous":
        return "401"
    if not directive_visible(role, relation):
        return "404"
    if not sees(role, relation):
        return "422 unknown_unit"
    return "201" if writes(role, relation) else "403"


def transition(role, relation):
    """Moving a fresh assignment straight to done: its own unit is told the state
    machine forbids it; nobody else may move it forward at all."""
    if role == "anonymous":
        return "401"
    if not sees(role, relation):
        return "404"
    if role in ("secretary", "official") and relation == "own":
        return "422 transition_not_allowed"
    return "403"


def subtree_experience(role, relation):
    """An experience kept to the subtree of the unit at the relation: read in that
    subtree (any post there, a member's too) and by those with authority over it."""
    if role == "anonymous":
        return "401"
    if role == "admin":
        return "200"
    if role in ("secretary", "official"):
        return "200" if relation in INSIDE or relation == "parent" else "404"
    return "200" if relation in ("own", "parent") else "404"


def signed_in(role, allowed="200"):
    return "401" if role == "anonymous" else allowed


def award(role, relation, allowed):
    """Awarding (or withdrawing) a title to the unit at the relation in the name of its
    parent: authority over the parent is needed; honours are seen by all, so a refusal
    is a 403, never a 404."""
    if role == "anonymous":
        return "401"
    return allowed if takes_out(role, relation) else "403"


def cell_under(relation):
    # A cell may sit under a primary only; elsewhere the kind rule refuses it. The
    # code "C" is taken, so under a primary the answer is a duplicate.
    return "409 duplicate_code" if KIND[relation] == "primary" else "422 kind_not_allowed"


ROUTES = [
    ("GET", "/api/v1/units/{id}", lambda r, rel: path_read(r, rel)),
    ("PATCH", "/api/v1/units/{id}", lambda r, rel: path_write(r, rel, "200")),
    ("DELETE", "/api/v1/units/{id}", lambda r, rel: "401" if r == "anonymous" else "404" if not sees(r, rel)
        else ("409" if takes_out(r, rel) else "403")),
    ("GET", "/api/v1/units/{id}/children", lambda r, rel: path_read(r, rel)),
    ("POST", "/api/v1/units/{id}/move", lambda r, rel: "401" if r == "anonymous" else "404" if not sees(r, rel)
        else ("200" if takes_out(r, rel) else "403")),
    ("POST", "/api/v1/units", lambda r, rel: reference(r, rel, cell_under(rel), "unknown_parent")),
    ("GET", "/api/v1/units?under={id}", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/export/units?under={id}", lambda r, rel: path_read(r, rel)),
    ("POST", "/api/v1/import/units", lambda r, rel: "401" if r == "anonymous" else "422 invalid_rows"
        if not sees(r, rel) or writes(r, rel) else "403"),
    # Adding people needs authority somewhere: a member is refused whatever the file says.
    ("POST", "/api/v1/import/people", lambda r, rel: "401" if r == "anonymous" else "403" if r == "member"
        else "422 invalid_rows"),
    ("GET", "/api/v1/export/people?under={id}", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/units/{id}/posts", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/units/{id}/notes", lambda r, rel: path_read(r, rel)),
    ("POST", "/api/v1/posts", lambda r, rel: reference(r, rel, "422 unknown_person", "unknown_unit")),
    ("POST", "/api/v1/posts/{post}/end", lambda r, rel: path_write(r, rel, "422 invalid_value")),
    ("POST", "/api/v1/notes", lambda r, rel: reference(r, rel, "201", "unknown_unit")),
    # Notes are records: they need authority, a member does not read them.
    ("GET", "/api/v1/notes/{note}", lambda r, rel: "401" if r == "anonymous" else "200" if writes(r, rel) else "404"),
    ("GET", "/api/v1/people/{person}", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/people/{person}/posts", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/people?under={id}", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/audit?under={id}", lambda r, rel: path_read(r, rel)),
    # Directives: {directive} is issued by the unit at the relation to its own subtree,
    # {ended} is one that was closed, {assignment} is the unit's assignment of a
    # directive the centre conveyed to the whole tree.
    ("POST", "/api/v1/directives", lambda r, rel: reference(r, rel, "201", "unknown_unit")),
    ("GET", "/api/v1/directives/{directive}", lambda r, rel: directive_read(r, rel)),
    ("PATCH", "/api/v1/directives/{directive}", lambda r, rel: directive_write(r, rel, "409 not_draft")),
    ("POST", "/api/v1/directives/{directive}/issue", lambda r, rel: directive_write(r, rel, "409 not_draft")),
    ("POST", "/api/v1/directives/{ended}/withdraw", lambda r, rel: directive_write(r, rel, "409 directive_not_open")),
    ("POST", "/api/v1/directives/{ended}/close", lambda r, rel: directive_write(r, rel, "409 directive_not_open")),
    ("GET", "/api/v1/directives/{directive}/reach", lambda r, rel: directive_read(r, rel)),
    ("POST", "/api/v1/directives/{directive}/guidance", lambda r, rel: guidance(r, rel)),
    ("GET", "/api/v1/directives/{directive}/rollup?at={id}", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/directives/{directive}/rollup.csv?at={id}", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/directives/{directive}/rollup.xlsx?at={id}", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/directives/{directive}/laggards?at={id}", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/directives/{directive}/series?at={id}", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/units/{id}/assignments", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/units/{id}/assignments.ics", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/assignments/{assignment}", lambda r, rel: path_read(r, rel)),
    ("POST", "/api/v1/assignments/{assignment}/transition", lambda r, rel: transition(r, rel)),
    ("GET", "/api/v1/directives/{directive}/plans", lambda r, rel: directive_read(r, rel)),
    ("GET", "/api/v1/units/{id}/directives", lambda r, rel: path_read(r, rel)),
    # What is overdue under a unit is read as the unit is.
    ("GET", "/api/v1/units/{id}/attention", lambda r, rel: path_read(r, rel)),
    # Programmes: {programme} is owned by the unit at the relation and has no project yet,
    # so it is seen exactly where its owner is, and written by those who write there.
    ("POST", "/api/v1/programmes", lambda r, rel: reference(r, rel, "201", "unknown_unit")),
    ("GET", "/api/v1/programmes/{programme}", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/programmes/{programme}/progress", lambda r, rel: path_read(r, rel)),
    ("GET", "/api/v1/programmes/{programme}/projects", lambda r, rel: path_read(r, rel)),
    ("POST", "/api/v1/programmes/{programme}/projects", lambda r, rel: path_write(r, rel, "201")),
    ("POST", "/api/v1/programmes/{programme}/projects.csv", lambda r, rel: path_write(r, rel, "200")),
    # Experience: {shared} is written by the unit at the relation for the whole
    # organization, {experience} kept to its subtree. Honours: {award} is a title
    # awarded to the unit at the relation by its parent. An allowed withdrawal is sent
    # without a reason, so that every row finds the award as it was.
    ("POST", "/api/v1/experiences", lambda r, rel: reference(r, rel, "201", "unknown_unit")),
    ("GET", "/api/v1/experiences?under={id}", lambda r, rel: signed_in(r)),
    ("GET", "/api/v1/experiences/{shared}", lambda r, rel: signed_in(r)),
    ("GET", "/api/v1/experiences/{experience}", lambda r, rel: subtree_experience(r, rel)),
    ("POST", "/api/v1/titles", lambda r, rel: award(r, rel, "201")),
    ("GET", "/api/v1/titles?under={id}", lambda r, rel: signed_in(r)),
    ("GET", "/api/v1/titles/awards/{award}", lambda r, rel: signed_in(r)),
    ("POST", "/api/v1/titles/awards/{award}/withdraw", lambda r, rel: award(r, rel, "422 reason_required")),
    ("GET", "/api/v1/units/{id}/titles", lambda r, rel: path_read(r, rel)),
]

UNRELATED = [
    ("POST", "/api/v1/sessions", lambda r: "401 bad_credentials"),
    ("DELETE", "/api/v1/sessions/current", lambda r: "401" if r == "anonymous" else "204"),
    ("POST", "/api/v1/accounts", lambda r: "401" if r == "anonymous" else "422 unknown_person" if r == "admin" else "403"),
    ("POST", "/api/v1/people", lambda r: "401" if r == "anonymous" else "403" if r == "member" else "201"),
    ("GET", "/api/v1/people", lambda r: "401" if r == "anonymous" else "200"),
    ("GET", "/api/v1/units", lambda r: "401" if r == "anonymous" else "200"),
    ("GET", "/api/v1/export/units", lambda r: "401" if r == "anonymous" else "200"),
    ("GET", "/api/v1/export/people", lambda r: "401" if r == "anonymous" else "200"),
    ("GET", "/api/v1/audit", lambda r: "401" if r == "anonymous" else "200"),
    ("GET", "/api/v1/programmes", lambda r: "401" if r == "anonymous" else "200"),
    ("GET", "/api/v1/audit/verify", lambda r: "401" if r == "anonymous" else "200" if r == "admin" else "403"),
    # The signed checkpoint and its public key fix the log without saying what is in
    # it: every signed-in account may keep them.
    ("GET", "/api/v1/audit/checkpoint", lambda r: "401" if r == "anonymous" else "200"),
    ("GET", "/api/v1/audit/key", lambda r: "401" if r == "anonymous" else "200"),
]

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "authorization.csv"), "w", newline="") as out:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["method", "route", "role", "relation", "expect"])
    for method, route, rule in ROUTES:
        for role in ROLES:
            for relation in RELATIONS:
                writer.writerow([method, route, role, relation, rule(role, relation)])
    for method, route, rule in UNRELATED:
        for role in ROLES:
            writer.writerow([method, route, role, "none", rule(role)])
