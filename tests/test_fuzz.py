"""Random and malformed cases never raise an uncaught exception: a clean assessment or CaseError."""

from __future__ import annotations

import contextlib
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case
from rplcare.reasoning.assess import assess

TODAY = date(2026, 11, 23)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.dates(date(1900, 1, 1), date(2100, 1, 1)).map(str),
)
tests = st.sampled_from(
    [
        "hcg",
        "progesterone",
        "tsh",
        "free_t4",
        "tpo_antibodies",
        "hba1c",
        "lupus_anticoagulant",
        "anticardiolipin_igg",
        "anti_b2gpi_igg",
        "karyotype_female",
        "uterine_imaging",
        "prolactin",
        "hla_typing",
        "bogus",
    ]
)
units = st.sampled_from(
    [
        "IU/L",
        "mIU/mL",
        "ng/mL",
        "nmol/L",
        "mIU/L",
        "%",
        "mmol/mol",
        "GPL",
        "U/mL",
        "pmol/L",
        "ng/dL",
        "mg",
        None,
    ]
)
dates = st.dates(date(2015, 1, 1), date(2027, 6, 1)).map(str)
gas = st.one_of(
    st.sampled_from(["6+0", "8+3", "12+0", "16+2", "23+6", "24+0", "39+0", "45+0", "x+1", "8+9"]),
    st.floats(0, 50),
    st.integers(-3, 50),
)

result = st.fixed_dictionaries(
    {"test": tests, "date": dates},
    optional={
        "value": st.one_of(
            scalars, st.sampled_from(["positive", "negative", "46,XX", "46,XY,t(11;22)(q23;q11.2)"])
        ),
        "unit": units,
        "reference_high": st.floats(-5, 500),
        "method": st.sampled_from(["3d_ultrasound", "mri", "laser"]),
        "finding": st.sampled_from(["normal", "septate_uterus", "weird"]),
        "comparator": st.sampled_from(["<", "<=", ">", ">=", "ad", ""]),
    },
)
pregnancy = st.fixed_dictionaries(
    {
        "outcome": st.sampled_from(
            ["miscarriage", "biochemical", "live_birth", "stillbirth", "ectopic", "unknown"]
        )
    },
    optional={
        "ga": gas,
        "year": st.integers(1990, 2030),
        "date": dates,
        "poc_karyotype": st.sampled_from(["47,XX,+16", "46,XY", "45,X", "junk"]),
        "conception": st.sampled_from(["natural", "ivf", "frozen_transfer", "magic"]),
        "painless_cervical_dilation": st.booleans(),
    },
)
scan = st.fixed_dictionaries(
    {"date": dates},
    optional={
        "location": st.sampled_from(["intrauterine", "ectopic", "unknown", "moon"]),
        "msd_mm": st.floats(-1, 130),
        "crl_mm": st.floats(-1, 130),
        "yolk_sac": st.booleans(),
        "embryo": st.booleans(),
        "heartbeat": st.booleans(),
        "cervical_length_mm": st.floats(0, 60),
    },
)
current = st.fixed_dictionaries(
    {},
    optional={
        "lmp": dates,
        "cycle_length_days": st.integers(10, 70),
        "conception": st.sampled_from(["natural", "ivf", "frozen_transfer", "donor_egg"]),
        "transfer_date": dates,
        "embryo_age_days": st.sampled_from([3, 4, 5, 6]),
        "endometrial_preparation": st.sampled_from(["artificial", "natural", None]),
        "symptoms": st.lists(st.sampled_from(["bleeding", "pain", "itch"]), max_size=2),
        "treatments": st.lists(
            st.sampled_from(
                ["vaginal_progesterone", "dextrogestrel", "diazepam", "lmwh", "aspirin"]
            ),
            max_size=3,
        ),
        "scans": st.lists(scan, max_size=3),
    },
)
cases = st.fixed_dictionaries(
    {},
    optional={
        "format": st.sampled_from(["rplcare.case/1", "rplcare.case/9"]),
        "id": st.text(max_size=8),
        "assessed_on": st.sampled_from(["2026-11-23", "2026-11-20", "2027-01-01", "nope"]),
        "patient": st.fixed_dictionaries(
            {},
            optional={
                "age_years": st.integers(0, 90),
                "birth_date": dates,
                "bmi": st.floats(0, 100),
                "smoking": st.booleans(),
                "caffeine_mg_per_day": st.floats(-1, 900),
                "conditions": st.lists(
                    st.sampled_from(["diabetes_type1", "sle", "antiphospholipid_syndrome", "flu"]),
                    max_size=2,
                ),
                "menstrual_cycle": st.sampled_from(["regular", "oligomenorrhoea", "weekly"]),
            },
        ),
        "pregnancies": st.lists(pregnancy, max_size=6),
        "results": st.lists(result, max_size=8),
        "current_pregnancy": current,
        "gestational_carrier": st.booleans(),
        "extra_key": st.integers(),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=cases,
    policy=st.sampled_from(["guideline", "article"]),
    definition=st.sampled_from(["eshre2022", "asrm2012", "rcog2023"]),
)
def test_random_cases_give_an_assessment_or_path_errors(data, policy, definition):
    try:
        c = load_case(data, today=TODAY)
    except CaseError as exc:
        assert exc.problems, "a CaseError must name at least one problem"
        for path, message in exc.problems:
            assert isinstance(path, str) and message
        return
    a = assess(c, definition=definition, luteal_policy=policy)
    out = a.to_json()
    assert '"format": "rplcare.assessment/1"' in out


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        st.lists(st.integers()),
        st.integers(),
    )
)
def test_arbitrary_text_or_json_never_tracebacks(blob):
    with contextlib.suppress(CaseError):
        load_case(blob if isinstance(blob, str) else {"x": blob}, today=TODAY)
