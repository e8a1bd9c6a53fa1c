//! Atlas list paging: `pageNum` (default 1), `itemsPerPage` (default 100, at most 500),
//! `includeCount` (default true), answered as `{links, results, totalCount}`.

use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// The paging query parameters (unknown parameters are ignored, as Atlas does).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number.
    #[param(minimum = 1)]
    pub page_num: Option<i64>,
    /// Items per page, 1 to 500.
    #[param(minimum = 1, maximum = 500)]
    pub items_per_page: Option<i64>,
    /// Whether `totalCount` is answered.
    pub include_count: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Link {
    pub href: String,
    pub rel: String,
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Paged<T> {
    pub links: Vec<Link>,
    pub results: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<usize>,
}

/// Checked paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub num: usize,
    pub per_page: usize,
    pub include_count: bool,
}

impl PageQuery {
    pub fn check(&self) -> Result<Page, ApiError> {
        let num = self.page_num.unwrap_or(1);
        let per_page = self.items_per_page.unwrap_or(100);
        if num < 1 {
            return Err(ApiError::validation("pageNum must be at least 1"));
        }
        if !(1..=500).contains(&per_page) {
            return Err(ApiError::validation(
                "itemsPerPage must be between 1 and 500",
            ));
        }
        Ok(Page {
            num: usize::try_from(num).unwrap_or(usize::MAX),
            per_page: per_page as usize,
            include_count: self.include_count.unwrap_or(true),
        })
    }
}

impl Page {
    /// Cuts `items` (already sorted) into this page; `path` makes the `self` link.
    pub fn apply<T>(&self, items: Vec<T>, path: &str) -> Paged<T> {
        let total = items.len();
        let skip = (self.num - 1).saturating_mul(self.per_page);
        let results: Vec<T> = items.into_iter().skip(skip).take(self.per_page).collect();
        let mut links = vec![Link {
            href: format!("{path}?pageNum={}&itemsPerPage={}", self.num, self.per_page),
            rel: "self".into(),
        }];
        if skip.saturating_add(self.per_page) < total {
            links.push(Link {
                href: format!(
                    "{path}?pageNum={}&itemsPerPage={}",
                    self.num + 1,
                    self.per_page
                ),
                rel: "next".into(),
            });
        }
        Paged {
            links,
            results,
            total_count: self.include_count.then_some(total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(num: Option<i64>, per: Option<i64>, count: Option<bool>) -> PageQuery {
        PageQuery {
            page_num: num,
            items_per_page: per,
            include_count: count,
        }
    }

    #[test]
    fn defaults_and_limits() {
        assert_eq!(
            q(None, None, None).check().unwrap(),
            Page {
                num: 1,
                per_page: 100,
                include_count: true
            }
        );
        assert!(q(Some(0), None, None).check().is_err());
        assert!(q(None, Some(0), None).check().is_err());
        assert!(q(None, Some(501), None).check().is_err());
        assert!(q(None, Some(500), None).check().is_ok());
    }

    #[test]
    fn pages_cut_and_link() {
        let p = q(Some(2), Some(3), Some(true)).check().unwrap();
        let out = p.apply((1..=7).collect(), "/x");
        assert_eq!(out.results, vec![4, 5, 6]);
        assert_eq!(out.total_count, Some(7));
        assert_eq!(out.links.len(), 2);
        let last = q(Some(3), Some(3), Some(false))
            .check()
            .unwrap()
            .apply((1..=7).collect(), "/x");
        assert_eq!(last.results, vec![7]);
        assert_eq!(last.total_count, None);
        assert_eq!(last.links.len(), 1);
        let beyond = q(Some(i64::MAX), Some(3), None)
            .check()
            .unwrap()
            .apply((1..=7).collect::<Vec<i32>>(), "/x");
        assert!(beyond.results.is_empty());
    }
}
