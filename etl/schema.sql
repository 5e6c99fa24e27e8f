-- Power Balance database schema. Documented for analysts in docs/schema.md; keep the two in step
-- (tests/test_schema_docs.py checks that every table and column below is documented).

CREATE TABLE build_info (
    build_id      VARCHAR NOT NULL,   -- e.g. 20261123T161500Z-3f9a1c
    built_at      TIMESTAMP NOT NULL, -- UTC
    raw_dir       VARCHAR,
    code_version  VARCHAR,            -- git commit of the ETL, when known
    seconds       DOUBLE,
    geo_path      VARCHAR             -- URL path of this build's static boundary files
);

CREATE TABLE sources (
    source_id   VARCHAR NOT NULL,
    title       VARCHAR,
    file        VARCHAR NOT NULL,     -- path relative to the raw directory
    sha256      VARCHAR NOT NULL,
    bytes       BIGINT,
    publisher   VARCHAR,
    licence     VARCHAR,
    attribution VARCHAR,
    vintage     VARCHAR,
    url         VARCHAR,              -- official landing / download page
    loaded_at   TIMESTAMP
);

CREATE TABLE load_report (
    source_id   VARCHAR PRIMARY KEY,
    rows_read   BIGINT,
    rows_loaded BIGINT,
    unmatched   BIGINT,              -- codes that did not match current geography
    suppressed  BIGINT,              -- suppression markers read as missing
    negative    BIGINT,              -- negative values kept as published
    warnings    BIGINT,
    seconds     DOUBLE
);

CREATE TABLE load_issues (
    source_id   VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,     -- warning | unmatched | suppressed | negative | note
    message     VARCHAR NOT NULL,
    file        VARCHAR,
    sheet       VARCHAR,
    "row"       BIGINT,
    column_name VARCHAR,
    code        VARCHAR               -- the unmatched code, where there is one
);

CREATE TABLE load_facts (
    source_id VARCHAR NOT NULL,
    fact      VARCHAR NOT NULL,
    value     DOUBLE
);

-- Current areas only. Former codes live in area_code_map.
CREATE TABLE areas (
    code          VARCHAR PRIMARY KEY, -- GSS code
    name          VARCHAR NOT NULL,
    level         VARCHAR NOT NULL,    -- country | region | county | district | ward | combined_authority
    type          VARCHAR NOT NULL,    -- country | region | county | shire_district | unitary | metropolitan_district
                                       -- | london_borough | city_of_london | ward | combined_authority
    tier          VARCHAR,             -- upper (county) | lower (shire district) | single (unitary, met, London) | NULL
    parent_code   VARCHAR,             -- ward → district; shire district → county; county and single tier → region;
                                       -- region → country
    district_code VARCHAR,             -- for wards: their district; for districts: themselves
    county_code   VARCHAR,             -- two-tier areas only
    region_code   VARCHAR,
    ca_code       VARCHAR,             -- combined authority, where one exists (2023 lookup)
    registry_code VARCHAR,             -- mySociety 3-letter local-authority code (councils only)
    ecode         VARCHAR,             -- MHCLG finance E-code (councils only)
    ruc_class     VARCHAR,             -- 2021 Rural–Urban Classification (districts)
    vintage       VARCHAR NOT NULL     -- code/boundary vintage, e.g. 'LAD 2024', 'WD Dec 2023'
);

CREATE TABLE area_code_map (
    old_code  VARCHAR NOT NULL,        -- former GSS code, MHCLG E-code or older ward code
    new_code  VARCHAR NOT NULL,        -- current code in areas
    old_name  VARCHAR,
    level     VARCHAR NOT NULL,        -- district | county | ward | council_ecode
    relation  VARCHAR NOT NULL,        -- same | recoded | merged_into | split
    source_id VARCHAR NOT NULL,
    PRIMARY KEY (old_code, new_code)
);

-- LSOA lookups, kept so that grants can be placed at run time (uploads) without the raw files.
CREATE TABLE lsoa_lookup (
    lsoa_code     VARCHAR NOT NULL,       -- E01 code
    vintage       VARCHAR NOT NULL,       -- '2021' (ONS best-fit to May 2024 wards) | '2011' (mySociety register)
    ward24_code   VARCHAR,                -- May 2024 ward (2021 LSOAs only)
    district_code VARCHAR,                -- LAD 2024 code (2021 LSOAs only)
    registry_code VARCHAR,                -- mySociety council code (2011 LSOAs only)
    PRIMARY KEY (lsoa_code, vintage)
);

CREATE TABLE boundaries (
    code     VARCHAR PRIMARY KEY,
    level    VARCHAR NOT NULL,         -- ward | district | county | region
    vintage  VARCHAR NOT NULL,
    geom_wkb BLOB NOT NULL             -- WGS84 polygon, WKB (wards as published, rounded; others simplified)
);

-- Revenue Outturn Summary, one row per published cell used, in pounds (not £ thousand).
CREATE TABLE finance (
    council_code VARCHAR,              -- current GSS code the published council maps to
    mapping      VARCHAR NOT NULL,     -- same | predecessor (council abolished, value counted in its successor)
                                       -- | predecessor_share (council split: value × successor's population share)
    ecode        VARCHAR NOT NULL,     -- MHCLG E-code as published
    source_name  VARCHAR,              -- council name as published
    class        VARCHAR,              -- MHCLG class as published (SD, SC, UA, MD, LB, ...)
    period       VARCHAR NOT NULL,     -- financial year, e.g. '2017-18'
    line         VARCHAR NOT NULL,     -- normalised service line id (see indicators docs)
    line_label   VARCHAR,              -- the column heading as published
    value_gbp    DOUBLE,               -- NULL when suppressed/blank
    file         VARCHAR,
    sheet        VARCHAR,
    "row"        BIGINT,
    column_name  VARCHAR
);

-- 360Giving aggregate: funder × award year × recipient district × ward.
CREATE TABLE grants_agg (
    funder               VARCHAR NOT NULL,
    award_year           INTEGER NOT NULL,
    source_district_code VARCHAR,      -- as published (code of its year)
    source_ward_code     VARCHAR,
    region_name          VARCHAR,
    district_code        VARCHAR,      -- current district (LAD 2024)
    ward_code            VARCHAR,      -- Dec 2023 ward, NULL when it cannot be mapped
    ward_match           VARCHAR NOT NULL, -- exact | unmatched
    amount_gbp           DOUBLE NOT NULL,
    grants               INTEGER NOT NULL,
    "row"                BIGINT
);

-- Record-level grants in the 360Giving Data Standard.
CREATE TABLE grants (
    dataset            VARCHAR NOT NULL,  -- file the grant came from
    grant_id           VARCHAR NOT NULL,
    title              VARCHAR,
    award_date         DATE,
    amount_gbp         DOUBLE,
    currency           VARCHAR,
    funder_id          VARCHAR,
    funder_name        VARCHAR,
    programme          VARCHAR,
    recipient_id       VARCHAR,
    recipient_name     VARCHAR,
    recipient_postcode VARCHAR,
    beneficiary_codes  VARCHAR,          -- geoCodes as published, ';'-separated
    lsoa_code          VARCHAR,
    ward_code          VARCHAR,          -- Dec 2023 ward
    district_code      VARCHAR,          -- current district
    placed_by          VARCHAR,          -- beneficiary_lsoa | beneficiary_ward | beneficiary_district |
                                         -- recipient_postcode | recipient_location | NULL (not placed)
    "row"              BIGINT
);

CREATE TABLE parishes (
    parish_code     VARCHAR PRIMARY KEY,  -- E04, Dec 2018
    parish_name     VARCHAR,
    ward18_code     VARCHAR,              -- the 2018 ward when the parish lies in exactly one; NULL when it spans
                                          -- several (all of them are in parish_wards)
    district18_code VARCHAR,
    district_code   VARCHAR,              -- current district
    ward_code       VARCHAR               -- Dec 2023 ward when ward18_code is set and still a current ward, else NULL
);

-- Every parish–ward pair of the 2018 lookup (a parish crossing ward boundaries has one row per ward).
CREATE TABLE parish_wards (
    parish_code VARCHAR NOT NULL,         -- E04, Dec 2018
    ward18_code VARCHAR NOT NULL,         -- 2018 ward the parish lies (partly) in
    ward_code   VARCHAR,                  -- Dec 2023 ward when the 2018 ward code is still current, else NULL
    PRIMARY KEY (parish_code, ward18_code)
);

CREATE TABLE participation (
    area_code   VARCHAR,                  -- E92000001 England or E12 region
    area_name   VARCHAR,
    period      VARCHAR NOT NULL,         -- as published: '2014' or '2013/14'
    value_pct   DOUBLE,
    lci         DOUBLE,
    uci         DOUBLE,
    sample_size DOUBLE
);

CREATE TABLE indicators (
    indicator_id VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    domain       VARCHAR NOT NULL,        -- funding | projects | participation | headline | context
    unit         VARCHAR NOT NULL,
    polarity     INTEGER NOT NULL,        -- +1 higher = more enabling; -1 higher = more providing; 0 context
    scored       BOOLEAN NOT NULL,        -- part of the composite index
    description  VARCHAR,
    source_ids   VARCHAR,
    levels       VARCHAR,                 -- comma-separated levels with values
    is_local     BOOLEAN NOT NULL DEFAULT false,
    lens         VARCHAR NOT NULL DEFAULT 'both',  -- place | council | both: which index lens scores it
    static       BOOLEAN NOT NULL DEFAULT false,   -- one snapshot, used for every period
    local_scored BOOLEAN NOT NULL DEFAULT false,   -- scored only where a local value is loaded
    periods      VARCHAR                  -- comma-separated periods with values
);

CREATE TABLE indicator_values (
    area_code    VARCHAR NOT NULL,
    indicator_id VARCHAR NOT NULL,
    period       VARCHAR NOT NULL,
    value        DOUBLE,                  -- NULL = missing (never zero-filled)
    numerator    DOUBLE,
    denominator  DOUBLE,
    is_local     BOOLEAN NOT NULL DEFAULT false,
    note         VARCHAR
    -- one row per (area_code, indicator_id, period): checked by the build (etl/indicators
    -- check_one_row_each), not by a key index, which cost a quarter of a second to build
);

-- Councils' and partners' own figures, loaded from the raw directory's local/ folder (docs/local-data.md).
CREATE TABLE local_values (
    file        VARCHAR NOT NULL,         -- file name under local/
    sheet       VARCHAR,                  -- sheet, for XLSX files
    "row"       BIGINT NOT NULL,          -- row in the file (header = 1)
    template    VARCHAR NOT NULL,         -- volunteering | projects | council_grants
    area_code   VARCHAR NOT NULL,         -- current ward, district or county code
    area_level  VARCHAR NOT NULL,         -- ward | district | county
    period      VARCHAR NOT NULL,         -- financial year '2023-24' or calendar year '2023'
    measure     VARCHAR NOT NULL,         -- measure id from the template's schema
    value       DOUBLE NOT NULL,
    source_note VARCHAR                   -- who collected it and how, as given in the file
);

-- Default answers, computed once per build by etl/precompute.py (docs/schema.md): what every visitor
-- needs with default settings, read by powerbalance.index instead of being computed per process.
CREATE TABLE index_default (
    level               VARCHAR NOT NULL,
    period              VARCHAR NOT NULL,
    lens                VARCHAR NOT NULL,
    ord                 INTEGER NOT NULL,     -- row order of powerbalance.index.compute_index
    area_code           VARCHAR NOT NULL,
    name                VARCHAR,
    type                VARCHAR,
    tier                VARCHAR,
    "group"             VARCHAR,
    "index"             DOUBLE,
    rank                DOUBLE,
    n_in_group          BIGINT,
    score_funding       DOUBLE,
    score_projects      DOUBLE,
    score_participation DOUBLE,
    n_indicators        BIGINT,
    reason              VARCHAR
);

CREATE TABLE rank_bands_default (
    level        VARCHAR NOT NULL,
    period       VARCHAR NOT NULL,
    lens         VARCHAR NOT NULL,
    ord          INTEGER NOT NULL,
    area_code    VARCHAR NOT NULL,
    "group"      VARCHAR,
    rank         DOUBLE,
    median_rank  DOUBLE,
    p5           DOUBLE,
    p95          DOUBLE,
    band         DOUBLE,
    n_in_group   DOUBLE,
    robust       BOOLEAN
);

CREATE TABLE neighbours (
    ord          INTEGER NOT NULL,
    area_code    VARCHAR NOT NULL,
    peer_code    VARCHAR NOT NULL,
    distance     DOUBLE,
    peer_rank    BIGINT
);
