"""Words the pages show for codes: levels, domains, comparison groups, council types and tiers,
and Markdown escaping for data text. No database, no Streamlit."""

from __future__ import annotations

LEVEL_PLURAL = {"ward": "wards", "district": "districts", "county": "counties", "region": "regions"}
DOMAIN_LABELS = {"funding": "Funding", "projects": "Projects", "participation": "Participation"}
GROUP_LABELS = {
    "shire_district": "shire districts",
    "single_tier": "single-tier councils",
    "all_districts": "all districts and unitaries",
    "county": "counties",
    "region": "regions",
    "unitary": "unitary councils",
    "metropolitan_district": "metropolitan districts",
    "london_borough": "London boroughs",
}
TYPE_LABELS = {
    "shire_district": "Shire district",
    "unitary": "Unitary",
    "metropolitan_district": "Metropolitan district",
    "london_borough": "London borough",
    "city_of_london": "City of London",
    "county": "County",
    "region": "Region",
    "ward": "Ward",
    "country": "Country",
    "combined_authority": "Combined authority",
}
#: Tier labels for the distribution chart: a council is only compared with its own tier.
TIER_LABELS = {
    "lower": "Shire districts (lower tier)",
    "single": "Single-tier councils",
    "upper": "Counties (upper tier)",
}


def escape_markdown(text: str) -> str:
    """Data text shown through st.markdown: Markdown/HTML control characters are escaped so a
    value is always printed as text (st.markdown never renders HTML unless asked; this also
    stops a stray '*' or '[' from formatting)."""
    out = []
    for ch in str(text):
        out.append("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$" else ch)
    return "".join(out)
