//! One page of a list (RFC 7644 §3.4.2.4, RFC 9865), as SQL both backends run: the filter
//! as a WHERE clause, the order (creation order, or `sortBy` with missing values last
//! ascending and first descending, §3.4.2.3), the offset or the cursor, and whether the total
//! still needs counting.

use scim_proto::schema::ResourceKind;
use scimd_core::resource::{ListQuery, PageStart, ResourceRecord, SortOrder};
use scimd_core::{CoreError, ProviderId};

use crate::filter::{Dialect, Param, provider_filter_sql, sort_sql};

/// The queries of one page; placeholders are `?` (backends renumber them as they need).
pub(crate) struct PageSql {
    pub count_sql: String,
    /// The parameters of the count query: the first `count_params` of `page_params`.
    pub count_params: usize,
    /// `None` when the page holds nothing (`count=0`): only the total is wanted.
    pub page_sql: Option<String>,
    pub page_params: Vec<Param>,
}

pub(crate) fn page_sql(
    dialect: Dialect,
    provider: &ProviderId,
    kind: ResourceKind,
    q: &ListQuery,
    columns: &str,
) -> Result<PageSql, CoreError> {
    let mut where_sql = String::from("r.provider_id = ? AND r.kind = ?");
    let mut params: Vec<Param> = vec![provider.as_str().into(), kind.name().into()];
    if let Some(f) = &q.filter {
        let frag = provider_filter_sql(dialect, Some(provider.as_str()), &q.schemas, f)?;
        where_sql.push_str(&format!(" AND ({})", frag.sql));
        params.extend(frag.params);
    }
    let count_sql = format!("SELECT count(*) FROM resource r WHERE {where_sql}");
    let count_params = params.len();
    if q.count == 0 {
        return Ok(PageSql {
            count_sql,
            count_params,
            page_sql: None,
            page_params: params,
        });
    }
    let count = i64::try_from(q.count).unwrap_or(i64::MAX);
    let page_sql = match q.start {
        PageStart::After(after) => {
            // One row more than asked tells whether another page follows.
            params.extend([after.into(), count.saturating_add(1).into()]);
            format!("SELECT {columns} FROM resource r WHERE {where_sql} AND r.seq > ? ORDER BY r.seq LIMIT ?")
        }
        PageStart::Index(start) => {
            let order = match &q.sort {
                Some((path, order)) => {
                    let (dir, nulls) = if *order == SortOrder::Descending {
                        ("DESC", "FIRST")
                    } else {
                        ("ASC", "LAST")
                    };
                    format!(
                        "{} {dir} NULLS {nulls}, r.seq {dir}",
                        sort_sql(dialect, &q.schemas, path)?
                    )
                }
                None => "r.seq".to_owned(),
            };
            params.extend([
                count.into(),
                i64::try_from(start.saturating_sub(1)).unwrap_or(i64::MAX).into(),
            ]);
            format!("SELECT {columns} FROM resource r WHERE {where_sql} ORDER BY {order} LIMIT ? OFFSET ?")
        }
    };
    Ok(PageSql {
        count_sql,
        count_params,
        page_sql: Some(page_sql),
        page_params: params,
    })
}

/// Trim the look-ahead row of a cursor page. Returns the items, where the next page starts
/// (if one follows), and the total when the page alone tells it: a first page that is not
/// full holds every match, so counting them again would be a second query for nothing.
pub(crate) fn finish_page(
    q: &ListQuery,
    mut items: Vec<ResourceRecord>,
) -> (Vec<ResourceRecord>, Option<i64>, Option<u64>) {
    let mut more_after = None;
    if matches!(q.start, PageStart::After(_)) && items.len() as u64 > q.count {
        items.truncate(usize::try_from(q.count).unwrap_or(usize::MAX));
        more_after = items.last().map(|r| r.seq);
    }
    let whole = matches!(q.start, PageStart::Index(1) | PageStart::After(0))
        && more_after.is_none()
        && (items.len() as u64) < q.count;
    let total = whole.then_some(items.len() as u64);
    (items, more_after, total)
}
