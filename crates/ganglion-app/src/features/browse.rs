//! Reading the organization the way people browse it: where I stand, the path to the
//! top, a unit's neighbourhood, its history, and an outline of a subtree for pictures.
//! Every answer is cut to what the caller may read, by the one predicate.

use std::collections::HashMap;

use ganglion_core::{Action, Resource, UnitId};
use ganglion_store::AuditFilter;

use crate::features::units::path_unit_id;
use crate::{Actor, App, AppError, AuditView, Ctx, PersonView, PostView, UnitView};

/// The signed-in account, as the pages greet it.
#[derive(Debug, Clone)]
pub struct Me {
    pub login: String,
    pub admin: bool,
    pub person: Option<PersonView>,
    /// The posts the person holds today.
    pub posts: Vec<PostView>,
}

/// A unit with the size of what lies under it, from the tree index.
#[derive(Debug, Clone)]
pub struct UnitSummary {
    pub unit: UnitView,
    /// Units in the subtree, the unit itself included.
    pub subtree_units: u32,
    pub child_count: u32,
}

/// A subtree drawn to a depth: each node with the number of units it stands for.
#[derive(Debug, Clone)]
pub struct OutlineNode {
    pub id: String,
    pub name: String,
    pub code: String,
    pub kind: String,
    pub subtree_units: u32,
    pub children: Vec<OutlineNode>,
    /// Units under children too small to draw, counted together.
    pub omitted_units: u32,
}

impl App {
    /// Who the caller is and the posts they hold today.
    pub async fn me(&self, ctx: &Ctx) -> Result<Me, AppError> {
        let Actor::Account { id, login, .. } = &ctx.actor else {
            return Err(AppError::Unauthenticated);
        };
        let account = self
            .store
            .account(*id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let (person, posts) = match account.person {
            Some(person) => {
                let today = self.today_text();
                let posts = self
                    .store
                    .posts_of_person(person)
                    .await?
                    .into_iter()
                    .filter(|post| {
                        post.start <= today && post.end.as_ref().is_none_or(|end| *end > today)
                    })
                    .map(PostView::from)
                    .collect();
                // The account's person, read with it.
                let row = account.person_name.map(|name| PersonView {
                    id: person.to_string(),
                    name,
                });
                (row, posts)
            }
            None => (None, Vec::new()),
        };
        Ok(Me {
            login: login.clone(),
            admin: ctx.principal.admin,
            person,
            posts,
        })
    }

    /// The units a caller starts browsing from: the top of the tree for the
    /// administrator, otherwise the highest units the caller's posts reach.
    pub async fn entry_units(&self, ctx: &Ctx) -> Result<Vec<UnitSummary>, AppError> {
        self.require_signed_in(ctx)?;
        let ids: Vec<UnitId> = {
            let tree = self.tree();
            if ctx.principal.admin {
                tree.roots().collect()
            } else {
                let mut posted: Vec<UnitId> = ctx
                    .principal
                    .authority_units()
                    .chain(ctx.principal.member_units())
                    .filter(|unit| tree.contains(*unit))
                    .collect();
                posted.sort_by_key(|unit| tree.position(*unit));
                posted.dedup();
                // Keep only units not already inside another entry's subtree.
                let mut entries: Vec<UnitId> = Vec::new();
                for unit in posted {
                    let covered = entries.iter().any(|entry| {
                        tree.is_within(unit, *entry)
                            && ctx.principal.authority_units().any(|held| held == *entry)
                    });
                    if !covered {
                        entries.push(unit);
                    }
                }
                entries
            }
        };
        self.summaries(ctx, &ids).await
    }

    /// The units with their subtree sizes, in the order given; missing ones, and those
    /// the caller may not read, are skipped.
    pub async fn summaries(&self, ctx: &Ctx, ids: &[UnitId]) -> Result<Vec<UnitSummary>, AppError> {
        let ids: Vec<UnitId> = ids
            .iter()
            .copied()
            .filter(|unit| self.allowed(ctx, Action::Read, Resource::Unit(*unit)))
            .collect();
        let rows = self.store.units_by_ids(&ids).await?;
        let mut by_id: HashMap<UnitId, ganglion_store::UnitRow> =
            rows.into_iter().map(|row| (row.id, row)).collect();
        let tree = self.tree();
        Ok(ids
            .iter()
            .filter_map(|id| by_id.remove(id))
            .map(|row| UnitSummary {
                subtree_units: tree.subtree_len(row.id),
                child_count: tree.children(row.id).count() as u32,
                unit: row.into(),
            })
            .collect())
    }

    /// One unit the caller may read, with its sizes.
    pub async fn unit_summary(&self, ctx: &Ctx, id: &str) -> Result<UnitSummary, AppError> {
        let row = self.readable_unit(ctx, id, "id").await?;
        let tree = self.tree();
        Ok(UnitSummary {
            subtree_units: tree.subtree_len(row.id),
            child_count: tree.children(row.id).count() as u32,
            unit: row.into(),
        })
    }

    /// The units above this one that the caller may read, top first: the breadcrumbs.
    /// Nothing above the caller's own reach is named.
    pub async fn ancestors(&self, ctx: &Ctx, id: &str) -> Result<Vec<UnitView>, AppError> {
        let unit = self.readable_unit(ctx, id, "id").await?;
        let chain: Vec<UnitId> = {
            let tree = self.tree();
            let mut chain = Vec::new();
            let mut next = tree.parent(unit.id);
            while let Some(parent) = next {
                chain.push(parent);
                next = tree.parent(parent);
            }
            chain.reverse();
            chain
                .into_iter()
                .filter(|unit| self.allowed(ctx, Action::Read, Resource::Unit(*unit)))
                .collect()
        };
        Ok(self
            .summaries(ctx, &chain)
            .await?
            .into_iter()
            .map(|summary| summary.unit)
            .collect())
    }

    /// Children of a unit with their subtree sizes, a page at a time.
    pub async fn child_summaries(
        &self,
        ctx: &Ctx,
        id: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<crate::Page<UnitSummary>, AppError> {
        let page = self.children(ctx, id, limit, cursor).await?;
        let tree = self.tree();
        let items = page
            .items
            .into_iter()
            .map(|unit| {
                let (subtree_units, child_count) = match path_unit_id(&unit.id) {
                    Ok(id) => (tree.subtree_len(id), tree.children(id).count() as u32),
                    Err(_) => (1, 0),
                };
                UnitSummary {
                    unit,
                    subtree_units,
                    child_count,
                }
            })
            .collect();
        Ok(crate::Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// What was done to this very unit, newest first.
    pub async fn unit_history(
        &self,
        ctx: &Ctx,
        id: &str,
        limit: u32,
    ) -> Result<Vec<AuditView>, AppError> {
        let unit = self.readable_unit(ctx, id, "id").await?;
        let filter = AuditFilter {
            unit: Some(unit.id.get()),
            ..AuditFilter::default()
        };
        let entries = self
            .store
            .audit_about(&filter, limit.clamp(1, 1000))
            .await?;
        Ok(entries.into_iter().map(AuditView::from).collect())
    }

    /// The subtree of a unit to `depth` levels below it, leaving out children that stand
    /// for less than `min_share` of the whole (they are counted in `omitted_units`), so
    /// that a picture of a million units stays a few hundred shapes.
    pub async fn outline(
        &self,
        ctx: &Ctx,
        id: &str,
        depth: u32,
        min_share: f64,
    ) -> Result<OutlineNode, AppError> {
        let top = self.readable_unit(ctx, id, "id").await?;
        struct Shape {
            id: UnitId,
            size: u32,
            children: Vec<Shape>,
            omitted: u32,
        }
        let shape = {
            let tree = self.tree();
            let total = tree.subtree_len(top.id).max(1) as f64;
            fn grow(
                tree: &ganglion_core::TreeIndex,
                unit: UnitId,
                levels_left: u32,
                total: f64,
                min_share: f64,
            ) -> Shape {
                let size = tree.subtree_len(unit);
                let mut children = Vec::new();
                let mut omitted = 0;
                if levels_left > 0 {
                    for child in tree.children(unit) {
                        let child_size = tree.subtree_len(child);
                        if f64::from(child_size) / total >= min_share {
                            children.push(grow(tree, child, levels_left - 1, total, min_share));
                        } else {
                            omitted += child_size;
                        }
                    }
                }
                Shape {
                    id: unit,
                    size,
                    children,
                    omitted,
                }
            }
            grow(&tree, top.id, depth.min(6), total, min_share.max(0.0))
        };
        let mut ids = Vec::new();
        fn collect(shape: &Shape, ids: &mut Vec<UnitId>) {
            ids.push(shape.id);
            for child in &shape.children {
                collect(child, ids);
            }
        }
        collect(&shape, &mut ids);
        let rows: HashMap<UnitId, ganglion_store::UnitRow> = self
            .store
            .units_by_ids(&ids)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        fn finish(shape: Shape, rows: &HashMap<UnitId, ganglion_store::UnitRow>) -> OutlineNode {
            let row = rows.get(&shape.id);
            OutlineNode {
                id: shape.id.to_string(),
                name: row.map(|r| r.name.clone()).unwrap_or_default(),
                code: row.map(|r| r.code.clone()).unwrap_or_default(),
                kind: row.map(|r| r.kind.clone()).unwrap_or_default(),
                subtree_units: shape.size,
                omitted_units: shape.omitted,
                children: shape
                    .children
                    .into_iter()
                    .map(|child| finish(child, rows))
                    .collect(),
            }
        }
        Ok(finish(shape, &rows))
    }

    /// Whether the caller may change this unit (rename, move, add under it): decides
    /// which forms a page offers. The use cases check again when a form is sent.
    pub fn may_change_unit(&self, ctx: &Ctx, id: &str) -> bool {
        path_unit_id(id)
            .map(|unit| self.allowed(ctx, Action::Write, Resource::Unit(unit)))
            .unwrap_or(false)
    }

    /// Whether the caller may open this unit's page: a page draws a link to a unit only
    /// when this holds, so that no link it offers leads to a 404.
    pub fn may_read_unit(&self, ctx: &Ctx, id: &str) -> bool {
        path_unit_id(id)
            .map(|unit| self.allowed(ctx, Action::Read, Resource::Unit(unit)))
            .unwrap_or(false)
    }
}
