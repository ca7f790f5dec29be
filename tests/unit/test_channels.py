"""One analyte channel, one spelling: the canonical channel code."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assays.chemistry.channels import channel_code


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"element": "Nd", "isotope_mass": 146, "cell_mode": "He"}, "146Nd [He]"),
        ({"element": "Nd", "isotope_mass": 146}, "146Nd"),
        ({"element": "Nd"}, "Nd"),
        ({"element": "Dy", "isotope_mass": 163, "cell_mode": "No Gas"}, "163Dy [No Gas]"),
        ({"element": "Tb", "isotope_mass": 159, "cell_mode": "KED"}, "159Tb [KED]"),
        ({"element": "Nd", "cell_mode": "He"}, "Nd [He]"),
    ],
)
def test_icp_ms_channel_is_mass_symbol_then_cell_mode(kwargs: dict[str, object], expected: str) -> None:
    assert channel_code(**kwargs) == expected


def test_triple_quad_channel_carries_its_mass_pair_before_the_cell_mode() -> None:
    assert channel_code(element="As", isotope_mass=75, q1_mass=75, q2_mass=91, cell_mode="O2") == "75As 75->91 [O2]"
    assert channel_code(element="Sm", isotope_mass=152, q1_mass=152, q2_mass=152, cell_mode="NH3") == "152Sm 152->152 [NH3]"
    # On-mass and mass-shifted are different channels, so they must not share a code.
    assert channel_code(element="As", isotope_mass=75, q1_mass=75, q2_mass=75, cell_mode="O2") != channel_code(
        element="As", isotope_mass=75, q1_mass=75, q2_mass=91, cell_mode="O2"
    )


def test_oes_channel_is_symbol_wavelength_and_lower_case_view() -> None:
    assert channel_code(element="Al", wavelength_nm=Decimal("394.401"), view="radial") == "Al 394.401 (radial)"
    assert channel_code(element="Al", wavelength_nm=Decimal("394.401"), view="Radial") == "Al 394.401 (radial)"
    assert channel_code(element="Fe", wavelength_nm=Decimal("259.940"), view="axial") == "Fe 259.94 (axial)"
    assert channel_code(element="Fe", wavelength_nm=Decimal("259.940")) == "Fe 259.94"


@pytest.mark.parametrize("wavelength", [Decimal("401.225"), Decimal("401.2250"), 401.225, "401.225"])
def test_a_wavelength_has_one_spelling_whatever_its_type_or_trailing_zeros(wavelength: object) -> None:
    assert channel_code(element="Nd", wavelength_nm=wavelength, view="axial") == "Nd 401.225 (axial)"


def test_a_whole_number_wavelength_is_not_written_in_exponent_form() -> None:
    # Decimal("400.000").normalize() is 4E+2; the code must still read 400.
    assert channel_code(element="Y", wavelength_nm=Decimal("400.000")) == "Y 400"
    assert channel_code(element="Y", wavelength_nm=Decimal("371.030"), view="radial") == "Y 371.03 (radial)"


def test_an_oes_channel_ignores_icp_ms_details() -> None:
    assert channel_code(element="Nd", wavelength_nm=Decimal("401.225"), isotope_mass=146, cell_mode="He") == "Nd 401.225"


@pytest.mark.parametrize("name", ["Cl-", "SO4 2-", "F-", "LOI"])
def test_anions_and_loi_are_named_channels(name: str) -> None:
    assert channel_code(element=None, name=name) == name


def test_a_channel_without_element_or_name_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a name"):
        channel_code(element=None)
    with pytest.raises(ValueError, match="needs a name"):
        channel_code(element=None, isotope_mass=35)


@pytest.mark.parametrize("cell_mode", ["No Gas", " No Gas", "No Gas ", "No  Gas", "No\tGas", "\nNo \t Gas\n"])
def test_cell_mode_whitespace_is_folded(cell_mode: str) -> None:
    assert channel_code(element="La", isotope_mass=139, cell_mode=cell_mode) == "139La [No Gas]"


@pytest.mark.parametrize("cell_mode", ["", " ", "\t", "\n  \n"])
def test_a_blank_cell_mode_is_no_cell_mode(cell_mode: str) -> None:
    assert channel_code(element="La", isotope_mass=139, cell_mode=cell_mode) == "139La"


def test_named_channel_whitespace_is_folded() -> None:
    assert channel_code(element=None, name=" SO4  2- ") == "SO4 2-"


@pytest.mark.parametrize(("q1", "q2"), [(75, None), (None, 91)])
def test_half_a_mass_shift_is_refused(q1: int | None, q2: int | None) -> None:
    with pytest.raises(ValueError, match="Q1 and Q2"):
        channel_code(element="As", isotope_mass=75, q1_mass=q1, q2_mass=q2, cell_mode="O2")


_WHITESPACE = " \t\n\r\x0b\x0c\u00a0\u2003"
_cell_modes = st.text(alphabet=st.sampled_from("HeNOKDgas2-3" + _WHITESPACE), max_size=24)
_masses = st.none() | st.integers(min_value=1, max_value=260)


@given(
    element=st.sampled_from(["Nd", "Pr", "La", "Dy", "Tb", "As", "Y"]),
    isotope_mass=_masses,
    q_pair=st.none() | st.tuples(st.integers(min_value=1, max_value=260), st.integers(min_value=1, max_value=260)),
    cell_mode=_cell_modes,
)
def test_an_icp_ms_code_never_has_stray_whitespace_and_ignores_how_the_cell_mode_was_spaced(
    element: str, isotope_mass: int | None, q_pair: tuple[int, int] | None, cell_mode: str
) -> None:
    q1, q2 = q_pair if q_pair is not None else (None, None)
    code = channel_code(element=element, isotope_mass=isotope_mass, q1_mass=q1, q2_mass=q2, cell_mode=cell_mode)
    assert "  " not in code
    assert code == code.strip()
    assert not any(ch in code for ch in _WHITESPACE if ch != " ")
    # Two spellings of the same cell mode give the same channel.
    assert code == channel_code(element=element, isotope_mass=isotope_mass, q1_mass=q1, q2_mass=q2, cell_mode=" ".join(cell_mode.split()))
    assert code.endswith("]") == bool(cell_mode.split())
