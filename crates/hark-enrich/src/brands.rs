//! Brand matching: which configured brand queries a mention matches, and how (its brand field,
//! a keyword, a product name, a hashtag, a handle, or a misspelling of a keyword).

use hark_core::{config::BrandQuery, BrandMatch, Mention};

pub struct BrandMatcher {
    queries: Vec<BrandQuery>,
}

impl BrandMatcher {
    pub fn new(queries: &[BrandQuery]) -> Self {
        BrandMatcher { queries: queries.to_vec() }
    }

    pub fn matches(&self, _mention: &Mention) -> Vec<BrandMatch> {
        let _ = &self.queries;
        Vec::new()
    }
}
