//! The one router every HTTP function uses: a table of method, path
//! template and the route it names. Resolving a request answers 404 when no
//! template has the path and 405 when only the method differs; the same
//! table is what the functions declare and the spec is checked against.

use crate::http::ApiError;

/// One row of a function's route table: `{name}` in the path matches one
/// non-empty segment.
#[derive(Debug, Clone, Copy)]
pub struct Route<R> {
    pub method: &'static str,
    pub path: &'static str,
    pub route: R,
}

/// A function's route table.
#[derive(Debug, Clone, Copy)]
pub struct Router<R: 'static> {
    routes: &'static [Route<R>],
}

/// The route a request resolved to, with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'p, R> {
    pub route: R,
    params: Vec<(&'static str, &'p str)>,
}

impl<R> Matched<'_, R> {
    /// The segment matched by `{name}`; every parameter of the template is
    /// present once the route matched.
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, value)| value)
    }
}

/// The parameters of `path` under `template`, or `None` when it does not fit.
fn fit<'p>(template: &'static str, path: &'p str) -> Option<Vec<(&'static str, &'p str)>> {
    let (mut want, mut got) = (template.split('/'), path.split('/'));
    let mut params = Vec::new();
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') && !g.is_empty() => {
                params.push((&w[1..w.len() - 1], g));
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

impl<R: Copy> Router<R> {
    pub const fn new(routes: &'static [Route<R>]) -> Self {
        Self { routes }
    }

    /// The route for `method` on `path` (the route path, prefixes removed).
    pub fn resolve<'p>(&self, method: &str, path: &'p str) -> Result<Matched<'p, R>, ApiError> {
        let mut path_known = false;
        for row in self.routes {
            if let Some(params) = fit(row.path, path) {
                if row.method == method {
                    return Ok(Matched {
                        route: row.route,
                        params,
                    });
                }
                path_known = true;
            }
        }
        Err(if path_known {
            ApiError::method_not_allowed()
        } else {
            ApiError::not_found()
        })
    }

    /// Every (method, path template) served.
    pub fn table(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.routes.iter().map(|row| (row.method, row.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Item {
        One,
        Create,
    }

    const ITEMS: Router<Item> = Router::new(&[
        Route {
            method: "GET",
            path: "/v1/items/{id}",
            route: Item::One,
        },
        Route {
            method: "POST",
            path: "/v1/items",
            route: Item::Create,
        },
    ]);

    #[test]
    fn routes_match_by_template_and_carry_their_parameters() {
        let one = ITEMS.resolve("GET", "/v1/items/42").unwrap();
        assert_eq!((one.route, one.param("id")), (Item::One, "42"));
        assert_eq!(
            ITEMS.resolve("POST", "/v1/items").unwrap().route,
            Item::Create
        );
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405() {
        let status = |method, path| ITEMS.resolve(method, path).unwrap_err().status;
        assert_eq!(status("DELETE", "/v1/items/42"), 405);
        assert_eq!(status("GET", "/v1/items"), 405);
        for unknown in [
            "/v1/items/",
            "/v1/items/42/x",
            "/v1/item",
            "/v1/items/42/",
            "/",
        ] {
            assert_eq!(status("GET", unknown), 404, "{unknown}");
        }
    }

    #[test]
    fn the_table_lists_every_route_once() {
        let table: Vec<_> = ITEMS.table().collect();
        assert_eq!(table, [("GET", "/v1/items/{id}"), ("POST", "/v1/items")]);
    }
}
