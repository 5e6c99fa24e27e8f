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


def and_list(items) -> str:
    """'A, B and C'; 'A and B'; 'A'; '' for none."""
    items = list(items)
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


#: Tier labels for the distribution chart: a council is only compared with its own tier.
TIER_LABELS = {
    "lower": "Shire districts (lower tier)",
    "single": "Single-tier councils",
    "upper": "Counties (upper tier)",
}


#: The words a finance value's note starts with (after its year) when the year comes before the council
#: existed and the value is the sum of the councils it replaced (etl/indicators/finance.py writes them;
#: queries.reorganisation_note reads them).
BEFORE_IT_EXISTED = "is before this council existed"


def enabler_ratio_words(lens: str) -> tuple[str, str]:
    """(name, unit) of the enabler ratio a lens shows, as the indicator table names it: in the
    council lens it is the council's-own-spending ratio, a different measure from the place's."""
    if lens == "council":
        return "Enabler ratio (council's own spending)", "£ in community hands per £100 of the council's own spending"
    return "Enabler ratio", "£ in community hands per £100 of council spending"


def weights_words(weights: dict, defaults: dict) -> str:
    """'default weights', or 'weights funding 30 / projects 70 / participation 0' (percent of their
    sum, in the order of ``defaults``) for any other weights: for titles and file names."""
    total = sum(float(weights.get(d, 0.0)) for d in defaults)
    shares = {d: 100 * float(weights.get(d, 0.0)) / total if total > 0 else 0.0 for d in defaults}
    base = {d: 100 * float(v) / sum(float(x) for x in defaults.values()) for d, v in defaults.items()}
    if all(abs(shares[d] - base[d]) < 0.5 for d in defaults):
        return "default weights"
    return "weights " + " / ".join(f"{DOMAIN_LABELS.get(d, d).lower()} {shares[d]:.0f}" for d in defaults)


def escape_markdown(text: str) -> str:
    """Data text shown through st.markdown: Markdown/HTML control characters are escaped so a
    value is always printed as text (st.markdown never renders HTML unless asked; this also
    stops a stray '*' or '[' from formatting)."""
    out = []
    for ch in str(text):
        out.append("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$" else ch)
    return "".join(out)


def unmeasured_weights_note(domains) -> str | None:
    """Why the weight of a domain no area has a figure for is not used (``index.unmeasured_domains``)."""
    if not domains:
        return None
    names = _domain_names(domains)
    return (
        f"No area has a {names} figure in this data{_unmeasured_why(domains)}: the {names} weight is not used, "
        "and the index weighs the other domains as you set them."
    )


def nothing_measured_note(domains, defaults: dict) -> str:
    """Why weights given only to domains no area has a figure for (``index.nothing_measured``) are
    replaced by the default ones."""
    names = _domain_names(domains)
    return (
        f"Only {names} {'has' if len(domains) == 1 else 'have'} weight, and no area has a {names} figure in this data{_unmeasured_why(domains)}: "
        f"there is nothing to weigh, so {default_weights_text(defaults)} are used instead."
    )


def link_weights_note(all_zero: bool, defaults: dict) -> str:
    """Why the weights in a link were not used (``urlstate.weights_fault``), and which are shown."""
    why = "every weight in it is 0" if all_zero else "they could not be read"
    return (
        f"The weights in this address could not be used ({why}), so they were ignored and "
        f"{default_weights_text(defaults)} are shown."
    )


def default_weights_text(defaults: dict) -> str:
    """'the default weights (funding 50 / projects 50 / participation 0)', in percent of their sum."""
    total = sum(float(v) for v in defaults.values())
    shares = " / ".join(f"{DOMAIN_LABELS.get(d, d).lower()} {100 * float(v) / total:.0f}" for d, v in defaults.items())
    return f"the default weights ({shares})"


def _domain_names(domains) -> str:
    return " and ".join(DOMAIN_LABELS.get(d, d).lower() for d in domains)


def _unmeasured_why(domains) -> str:
    if "participation" not in domains:
        return ""
    return (
        " (civic participation is published for England and its regions only, so it counts only through "
        "local figures, and none are loaded)"
    )


def search_status(query: str, listed: int) -> str:
    """What a search found when the list of matches speaks for itself, said as a status message after
    the search box (review: a screen reader user pressing Enter heard nothing; the count was heard only
    on opening "Matches"): '4 places match “Worthing”: choose one in Matches.'"""
    shown = query.strip()
    if listed == 1:
        return f"1 place matches “{shown}”: choose it in Matches."
    return f"{listed} places match “{shown}”: choose one in Matches."
