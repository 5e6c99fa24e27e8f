"""Where every raw file comes from: public GitHub repository, pinned commit, path in that repository.

This table is what lets ``python -m etl fetch`` rebuild the raw directory (the layout of
``../shared/data``) from the publishers with no offline mirror. It transcribes the "Exact
origins" table of ``../shared/data/SOURCES.md``, with one correction found while writing it:
the boundary files in ``henryjameslau/geoportal-boundaries-as-topojson`` are stored as
``outputs/<name>.json`` (TopoJSON content); the mirror saved them as ``<name>.topojson``.

Three kinds of origin:

* ``copy`` — the file is used exactly as published; its sha256 must equal the project manifest.
* ``rda_csv`` — an R data object (``.rda``) written out as CSV (pandas, no index). Re-converting
  may not reproduce the mirror byte for byte, so ``rows`` and ``columns`` below (the shape of the
  mirror's file) are checked instead when the sha256 differs.
* ``rda_wards_geojson`` — the ``sf`` ward boundary object, written as GeoJSON (EPSG:4326),
  English wards only (``WD23CD`` starting ``E05``), properties ``WD23CD, WD23NM, LAD23CD, LAD23NM``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import quote

COPY = "copy"
RDA_CSV = "rda_csv"
RDA_WARDS_GEOJSON = "rda_wards_geojson"
KINDS = (COPY, RDA_CSV, RDA_WARDS_GEOJSON)

GITHUB_RAW = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class Origin:
    """One raw file: ``path`` (relative to the raw dir) and where it is published."""

    path: str
    repo: str
    commit: str
    repo_path: str
    kind: str = COPY
    rows: int | None = None
    columns: tuple[str, ...] = field(default=())

    @property
    def converted(self) -> bool:
        return self.kind != COPY

    @property
    def object_name(self) -> str:
        """Name of the R object inside an ``.rda`` file (R packages name it after the file)."""
        return PurePosixPath(self.repo_path).stem

    def url(self, github_raw: str = GITHUB_RAW) -> str:
        """Raw content URL at the pinned commit (never a branch, so the bytes cannot drift)."""
        return f"{github_raw.rstrip('/')}/{self.repo}/{self.commit}/{quote(self.repo_path)}"


def _cols(header: str) -> tuple[str, ...]:
    return tuple(header.split(","))


MYSOC_LA = ("mysociety/uk_local_authority_names_and_codes", "67ef8b118938678401a452f4f19f669a7221cc73")
WARDS = ("jimgar/wardboundaries", "97e081e4ee10c31daee55d5a0101bc99ba15ffe7")
TOPO = ("henryjameslau/geoportal-boundaries-as-topojson", "57fc240c548a15d3a32afd9040231165860de738")
GEOGRAPHR = ("humaniverse/geographr", "c026be5cc76cb576358082b53f1f13d69ab577ae")
IMD = ("humaniverse/IMD", "2f6c9050afee99a40041eb63b02b6b0c58850704")
DEMOGRAPHR = ("humaniverse/demographr", "d0417101e5cad5fe1eca059ac60859e9157a29d2")
COMPOSITE_IMD = ("mysociety/composite_uk_imd", "af4866b06fe603b65beced39ec120b5217b1b754")
LA_DISTANCE = ("mysociety/la_distance", "350658b2fc0bb7250efd9e2a3b56751386484559")
BBC = ("BBC-Data-Unit/council-cuts-charts", "5b54d08f1af88ee6ba30719b8a2541bfa01e5e6d")
GRANTS_360 = ("yanoak/360giving-deprivation", "d3b961243ba4f9a726da23af4f7fdac80161bc8e")
COVID_360 = ("ThreeSixtyGiving/covid19-tracker", "2f04ffffa0560ed9a157443a4be4c0c305411237")
ONS_LOOKUPS = ("jtrim-ons/ons-lookups", "85d0ba6e476badf3861d8dc7485aecf40598d031")
SMC = ("ukgov-equality-hub/smc-son", "130177aca799632e730e0f57d5b4f90f009f7fe1")
SMC_4 = ("ukgov-equality-hub/smc-son", "be2b6b0b7f50f7c580bb313c784530f26baab0cb")
ARCADES = ("arcadesproject/python-council-data-cleanup", "c08a5ac0127537611f60ad198a254726ac18802e")

SMC_DIR = "son/content/drivers_of_social_mobility/social_capital_and_connections/civic_engagement/1.0"
SMC_4_DIR = "son/content/son/drivers_of_social_mobility/social_capital_and_connections/civic_engagement/4.0"

IMD2025_LTLA24_COLUMNS = _cols(
    "ltla24_code,ltla24_name,imd_average_rank,imd_rank_of_average_rank,imd_average_score,"
    "imd_rank_of_average_score,imd_proportion_of_lso_as_in_most_deprived_10_percent_nationally,"
    "imd_rank_of_proportion_of_lso_as_in_most_deprived_10_percent_nationally,imd25_extent,imd25_rank_of_extent,"
    "imd25_local_concentration,imd25_rank_of_local_concentration,income_average_rank,income_rank_of_average_rank,"
    "income_average_score,income_rank_of_average_score,"
    "income_proportion_of_lso_as_in_most_deprived_10_percent_nationally,"
    "income_rank_of_proportion_of_lso_as_in_most_deprived_10_percent_nationally,income_scale,rank_of_income_scale,"
    "employment_average_rank,employment_rank_of_average_rank,employment_average_score,"
    "employment_rank_of_average_score,employment_proportion_of_lso_as_in_most_deprived_10_percent_nationally,"
    "employment_rank_of_proportion_of_lso_as_in_most_deprived_10_percent_nationally,employment_scale,"
    "rank_of_employment_scale,education_skills_and_training_average_rank,"
    "education_skills_and_training_rank_of_average_rank,education_skills_and_training_average_score,"
    "education_skills_and_training_rank_of_average_score,"
    "education_skills_and_training_proportion_of_lso_as_in_most_deprived_10_percent_nationally,"
    "education_skills_and_training_rank_of_proportion_of_lso_as_in_most_deprived_10_percent_nationally,"
    "health_deprivation_and_disability_average_rank,health_deprivation_and_disability_rank_of_average_rank,"
    "health_deprivation_and_disability_average_score,health_deprivation_and_disability_rank_of_average_score,"
    "health_deprivation_and_disability_proportion_of_lso_as_in_most_deprived_10_percent_nationally,"
    "health_deprivation_and_disability_rank_of_proportion_of_lso_as_in_most_deprived_10_percent_nationally,"
    "crime_average_rank,crime_rank_of_average_rank,crime_average_score,crime_rank_of_average_score,"
    "crime_proportion_of_lso_as_in_most_deprived_10_percent_nationally,"
    "crime_rank_of_proportion_of_lso_as_in_most_deprived_10_percent_nationally,"
    "barriers_to_housing_and_services_average_rank,barriers_to_housing_and_services_rank_of_average_rank,"
    "barriers_to_housing_and_services_average_score,barriers_to_housing_and_services_rank_of_average_score,"
    "barriers_to_housing_and_services_proportion_of_lso_as_in_most_deprived_10_percent_nationally,"
    "barriers_to_housing_and_services_rank_of_proportion_of_lso_as_in_most_deprived_10_percent_nationally,"
    "living_environment_average_rank,living_environment_rank_of_average_rank,living_environment_average_score,"
    "living_environment_rank_of_average_score,"
    "living_environment_proportion_of_lso_as_in_most_deprived_10_percent_nationally,"
    "living_environment_rank_of_proportion_of_lso_as_in_most_deprived_10_percent_nationally"
)


def _copy(path: str, origin: tuple[str, str], repo_path: str) -> Origin:
    return Origin(path, origin[0], origin[1], repo_path)


def _rda_csv(path: str, origin: tuple[str, str], rows: int, header: str | tuple[str, ...]) -> Origin:
    """An .rda data object named like the CSV (``data/<stem>.rda``), converted to that CSV."""
    stem = PurePosixPath(path).stem
    columns = header if isinstance(header, tuple) else _cols(header)
    return Origin(path, origin[0], origin[1], f"data/{stem}.rda", RDA_CSV, rows, columns)


def _topo(name: str) -> Origin:
    return _copy(f"geography/{name}.topojson", TOPO, f"outputs/{name}.json")


ORIGINS: tuple[Origin, ...] = (
    # geography/
    _copy(
        "geography/uk_local_authorities_future.csv",
        MYSOC_LA,
        "data/packages/uk_la_future/uk_local_authorities_future.csv",
    ),
    _copy("geography/lookup_gss_to_registry.csv", MYSOC_LA, "data/lookup_gss_to_registry.csv"),
    _copy("geography/lookup_lsoa_to_registry.csv", MYSOC_LA, "data/lookup_lsoa_to_registry.csv"),
    _copy(
        "geography/WD23_LAD23_UK_LU_DEC.csv",
        WARDS,
        "data-raw/Ward_to_Local_Authority_District_(December_2023)_Lookup_in_the_United_Kingdom.csv",
    ),
    Origin(
        "geography/wards_dec2023_england_bsc.geojson",
        WARDS[0],
        WARDS[1],
        "data/wards_dec2023.rda",
        RDA_WARDS_GEOJSON,
        6862,
        ("WD23CD", "WD23NM", "LAD23CD", "LAD23NM"),
    ),
    _topo("Local_Authority_Districts_December_2024_Boundaries_UK_BUC"),
    _topo("Local_Authority_Districts_December_2024_Boundaries_UK_BGC"),
    _topo("Local_Authority_Districts_May_2024_Boundaries__UK_BSC"),
    _topo("Counties_December_2024_Boundaries_EN_BGC"),
    _topo("Counties_December_2024_Boundaries_EN_BSC"),
    _topo("Counties_and_Unitary_Authorities_December_2024_Boundaries_UK_BUC"),
    _topo("Regions_December_2023_Boundaries_EN_BUC"),
    _topo("Regions_December_2023_Boundaries_EN_BGC"),
    _topo("CAUTH_MAY_2025_EN_BUC"),
    _rda_csv(
        "geography/lookup_ltla24_region24.csv", GEOGRAPHR, 296, "ltla24_name,ltla24_code,region24_name,region24_code"
    ),
    _rda_csv("geography/lookup_ltla23_utla23.csv", GEOGRAPHR, 318, "ltla23_code,ltla23_name,utla23_code,utla23_name"),
    _rda_csv("geography/lookup_ltla23_cauth23.csv", GEOGRAPHR, 53, "ltla23_name,ltla23_code,cauth23_name,cauth23_code"),
    _rda_csv(
        "geography/lookup_lsoa21_ward24_ltla24.csv",
        GEOGRAPHR,
        35672,
        "lsoa21_name,lsoa21_code,ward24_name,ward24_code,ltla24_name,ltla24_code",
    ),
    _rda_csv(
        "geography/lookup_ltla_ltla.csv", GEOGRAPHR, 393, ",".join(f"ltla{y}_code,ltla{y}_name" for y in range(16, 25))
    ),
    # funding/
    *(
        _copy(f"funding/{name}", BBC, name)
        for name in (
            "Revenue_Outturn_Summary__RS__data_2010-11_by_LA_-_27-Nov-2012-v2.xls",
            "Revenue_Outturn_Summary__RS__data_2011-12_by_LA_-_Revised_28-Nov-2013.xls",
            "Revenue_Outturn_Summary__RS__data_2012-13_by_LA__Revised__-_18-Feb-2014.xls",
            "Revenue_Outturn_Summary__RS__data_2013-14_by_LA_-_Revised_28-Jan-2015.xls",
            "Revenue_Outturn_Summary__RS__data_2014-15_by_LA_-_02-Feb-2016.xls",
            "RS_2017-18_data_by_LA.xlsx",
        )
    ),
    # the publisher's 2023-24 ODS, removed from that repository in a later commit: fetched at this one
    _copy("funding/RS_2023-24_data_by_LA.ods", ARCADES, "RS_2023-24_data_by_LA.ods"),
    _copy("funding/mhclg_RS_revenue_outturn_2016_2017_uppertier.csv", BBC, "roall.csv"),
    _copy(
        "funding/360giving_grants_eng_LAD_ward_donor_year_2013_2018.csv",
        GRANTS_360,
        "app/src/data/grants/grants_eng_LAD_ward_donor_year.csv",
    ),
    _copy("funding/360giving_covid19_grants_2020-05-07.json", COVID_360, "covidtracker/assets/data/grants_data.json"),
    # community/
    _copy("community/PAR18_WD18_LAD18.csv", ONS_LOOKUPS, "csv/072.csv"),
    _copy("community/PAR19_WD19_LAD19.csv", ONS_LOOKUPS, "csv/081.csv"),
    _copy("community/PAR19_names_codes.csv", ONS_LOOKUPS, "csv/269.csv"),
    # volunteering/
    _copy(
        "volunteering/DR41-civic-engagement--by-ITL1-region-and-year--original.csv",
        SMC,
        f"{SMC_DIR}/DR41-civic-engagement--by-ITL1-region-and-year--original.csv",
    ),
    _copy(
        "volunteering/DR41-civic-engagement--full-dataset.csv",
        SMC,
        f"{SMC_DIR}/DR41-civic-engagement--full-dataset.csv",
    ),
    _copy(
        "volunteering/DR41-4.0-civic-engagement--full-dataset.csv",
        SMC_4,
        f"{SMC_4_DIR}/DR41-4.0-civic-engagement--full-dataset.csv",
    ),
    # context/
    _rda_csv("context/imd2025_england_ltla24.csv", IMD, 296, IMD2025_LTLA24_COLUMNS),
    _rda_csv(
        "context/imd2025_england_lsoa21.csv",
        IMD,
        33755,
        "lsoa21_code,"
        + ",".join(
            f"{d}_{m}"
            for m in ("decile", "rank", "score")
            for d in (
                "IMD",
                "Income",
                "Employment",
                "Education",
                "Health",
                "Crime",
                "Housing_and_Services",
                "Environment",
            )
        ),
    ),
    _rda_csv(
        "context/imd2019_england_ltla23.csv",
        IMD,
        296,
        "ltla23_code,Score,Proportion,Extent,"
        + ",".join(
            f"{d}_{m}"
            for d in ("Income", "Employment", "Education", "Health", "Crime", "Housing_and_Access", "Environment")
            for m in ("Score", "Proportion", "Extent")
        ),
    ),
    _rda_csv(
        "context/age_gender21_ltla21_ew.csv",
        DEMOGRAPHR,
        331,
        "ltla21_code,total_population,total_females,total_males,younger_females,working_age_females,"
        "older_females,younger_males,working_age_males,older_males",
    ),
    _rda_csv("context/households21_england_wales_ltla23.csv", DEMOGRAPHR, 318, "ltla23_code,households"),
    _copy("context/mysociety_composite_uk_imd_la.csv", COMPOSITE_IMD, "data/packages/uk_index/la_imd.csv"),
    _copy("context/lsoa11_population_mid2019.csv", LA_DISTANCE, "data/imd/2019_population.csv"),
    _rda_csv("context/ruc21_ltla24.csv", GEOGRAPHR, 318, "ltla24_code,ruc21_code,classification,ruc"),
)

BY_PATH: dict[str, Origin] = {o.path: o for o in ORIGINS}
