//! One name per brand, however users spell it. `SkyNordic`, `skynordic` and a mention that only
//! says "flying skynordic" must count as one brand: one alert series, one partition key, one
//! route condition. The canonical name is the spelling of the configured `[[enrich.brands]]`
//! query when the name matches it case-insensitively, otherwise the name in lowercase.

use std::collections::HashMap;

/// The configured brand names, looked up case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct BrandNames {
    /// Lowercase name → the configured spelling.
    configured: HashMap<String, String>,
}

impl BrandNames {
    /// The names as configured (the `name` of each brand query).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> BrandNames {
        BrandNames { configured: names.into_iter().map(|name| (fold(name), name.to_string())).collect() }
    }

    /// The canonical name of a brand as someone wrote it; None for a blank one.
    pub fn canonical(&self, name: &str) -> Option<String> {
        let folded = fold(name);
        if folded.is_empty() {
            return None;
        }
        Some(self.configured.get(&folded).cloned().unwrap_or(folded))
    }
}

/// The canonical name without the configuration: lowercase, surrounding spaces removed. What
/// the alert stage falls back to for messages enriched before the canonical brand existed.
pub fn normalise(name: &str) -> Option<String> {
    BrandNames::default().canonical(name)
}

fn fold(name: &str) -> String {
    name.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> BrandNames {
        BrandNames::new(["SkyNordic", "Veloce Mobile"])
    }

    #[test]
    fn a_configured_brand_takes_its_configured_spelling() {
        let names = names();
        for written in ["SkyNordic", "skynordic", "SKYNORDIC", " skyNordic "] {
            assert_eq!(names.canonical(written).as_deref(), Some("SkyNordic"), "{written}");
        }
        assert_eq!(names.canonical("veloce mobile").as_deref(), Some("Veloce Mobile"));
    }

    #[test]
    fn another_brand_is_lowercase_and_a_blank_one_is_none() {
        let names = names();
        assert_eq!(names.canonical("Lumina Wear").as_deref(), Some("lumina wear"));
        assert_eq!(names.canonical("   "), None);
        assert_eq!(normalise("SkyNordic").as_deref(), Some("skynordic"));
    }
}
