//! aggregate and pipelines (commands.json aggregate, aggregation_stages `_rules`): the
//! implicit find when the first stage is not an initial source, then every stage's own
//! requirements, recursively through sub-pipelines.

use bson::{RawArray, RawBsonRef};

use super::ctx::{as_array, as_doc, check_coll, elems, ns, Ctx, Out, Reqs};
use super::error::ClassifyError;
use super::stages;
use crate::authz::actions::FIND;

/// mongod's default `internalPipelineLengthLimit`.
const MAX_STAGES: usize = 1000;
/// Sub-pipeline nesting depth we accept (mongod bounds nesting similarly).
const MAX_DEPTH: usize = 20;
/// Stages across all nested pipelines of one command: bounds the work per command.
const MAX_TOTAL_STAGES: usize = 5000;

/// Where a pipeline runs: its database and collection (`None` for `aggregate: 1` and
/// for collection-less sub-pipelines).
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub db: &'a str,
    pub coll: Option<&'a str>,
    pub depth: usize,
}

/// Accumulates requirements over a whole command.
pub(crate) struct Walk<'a> {
    pub reqs: Reqs<'a>,
    pub bypass: bool,
    visited: usize,
}

impl<'a> Walk<'a> {
    pub fn new(bypass: bool) -> Self {
        Walk {
            reqs: Reqs::default(),
            bypass,
            visited: 0,
        }
    }

    /// A top-level pipeline: implicit find on the namespace unless the first stage is an
    /// initial source, then every stage.
    pub fn top(&mut self, scope: Scope<'a>, pipeline: &'a RawArray) -> Result<(), ClassifyError> {
        let list = self.parse(pipeline)?;
        let initial = match list.first() {
            Some((name, _)) => stages::is_initial_source(name),
            None => false,
        };
        if !initial {
            match scope.coll {
                Some(c) => self.reqs.add_list(ns(scope.db, c), &[FIND]),
                None => {
                    return Err(ClassifyError::InvalidNamespace(
                        "{aggregate: 1} needs a pipeline starting with a collection-less stage"
                            .into(),
                    ))
                }
            }
        }
        self.stages(scope, &list)
    }

    /// A nested pipeline: only the stages' own requirements (the enclosing stage
    /// states the read of its foreign namespace).
    pub fn nested(
        &mut self,
        scope: Scope<'a>,
        pipeline: &'a RawArray,
    ) -> Result<(), ClassifyError> {
        let depth = scope.depth.saturating_add(1);
        if depth > MAX_DEPTH {
            return Err(ClassifyError::TooComplex(
                "sub-pipelines nested too deeply".into(),
            ));
        }
        let list = self.parse(pipeline)?;
        self.stages(Scope { depth, ..scope }, &list)
    }

    fn stages(
        &mut self,
        scope: Scope<'a>,
        list: &[(&'a str, RawBsonRef<'a>)],
    ) -> Result<(), ClassifyError> {
        for (name, spec) in list {
            stages::apply(self, scope, name, *spec)?;
        }
        Ok(())
    }

    /// Every stage must be a document with exactly one field (its name).
    fn parse(
        &mut self,
        pipeline: &'a RawArray,
    ) -> Result<Vec<(&'a str, RawBsonRef<'a>)>, ClassifyError> {
        let mut list = Vec::new();
        for e in elems(pipeline, "pipeline") {
            let doc = as_doc(e?, "pipeline stage")?;
            let mut it = doc.into_iter();
            let stage = match (it.next(), it.next()) {
                (Some(Ok(kv)), None) => kv,
                _ => {
                    return Err(ClassifyError::malformed(
                        "pipeline",
                        "a pipeline stage specification object must contain exactly one field",
                    ))
                }
            };
            list.push(stage);
            self.visited = self.visited.saturating_add(1);
            if list.len() > MAX_STAGES || self.visited > MAX_TOTAL_STAGES {
                return Err(ClassifyError::TooComplex("pipeline too long".into()));
            }
        }
        Ok(list)
    }
}

/// The first stage of a nested pipeline, for the "no `from` needs `$documents`" rules.
pub(crate) fn starts_with_documents(pipeline: &RawArray) -> bool {
    match pipeline.into_iter().next() {
        Some(Ok(RawBsonRef::Document(d))) => d
            .into_iter()
            .next()
            .is_some_and(|kv| kv.is_ok_and(|(k, _)| k == "$documents")),
        _ => false,
    }
}

/// commands.json aggregate. `aggregate: 1` is collection-less; `explain: true` changes
/// nothing (commands.json explain notes).
pub(crate) fn aggregate<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let coll = match cx.first {
        RawBsonRef::String(c) => {
            check_coll(c)?;
            Some(c)
        }
        RawBsonRef::Int32(1) | RawBsonRef::Int64(1) => None,
        RawBsonRef::Double(1.0) => None,
        _ => {
            return Err(ClassifyError::type_mismatch(
                "aggregate",
                "a collection name or 1",
            ))
        }
    };
    let pipeline = cx
        .get("pipeline")?
        .ok_or_else(|| ClassifyError::malformed("pipeline", "aggregate needs a pipeline"))?;
    let pipeline = as_array(pipeline, "pipeline")?;
    let mut w = Walk::new(cx.bypass);
    let scope = Scope {
        db: cx.db,
        coll,
        depth: 0,
    };
    w.top(scope, pipeline)?;
    let target = match coll {
        Some(c) => cx.ns_target(c),
        None => cx.db_target(),
    };
    Ok(Out::forward(w.reqs.into_formula(), target))
}

/// Read rights a view pipeline over `view_on` needs (commands.json create, view
/// branch): find on the source plus every stage's own requirements.
pub(crate) fn view_reqs<'a>(
    db: &'a str,
    view_on: &'a str,
    pipeline: Option<&'a RawArray>,
) -> Result<Reqs<'a>, ClassifyError> {
    let mut w = Walk::new(false);
    w.reqs.add_list(ns(db, view_on), &[FIND]);
    if let Some(p) = pipeline {
        let scope = Scope {
            db,
            coll: Some(view_on),
            depth: 0,
        };
        w.top(scope, p)?;
    }
    Ok(w.reqs)
}
