"""The money filters: an amount quantized to its currency's minor unit, with or without the
currency code."""

from decimal import Decimal

from django.template import Context, Template


def _render(text: str, **context) -> str:
    return Template("{% load money %}" + text).render(Context(context))


def test_money_shows_the_currency_decimals_and_code():
    text = "{{ a|money:'USD' }}|{{ b|money:'USD' }}|{{ c|money:cur }}|{{ d|money:'KWD' }}"
    assert (
        _render(
            text,
            a=Decimal("59.7600000000000"),
            b=Decimal("0E-13"),
            c=Decimal("1500.00"),
            cur="JPY",
            d=Decimal("1.25"),
        )
        == "59.76 USD|0.00 USD|1500 JPY|1.250 KWD"
    )


def test_money_number_shows_the_figure_alone():
    text = "{{ a|money_number:'USD' }}|{{ b|money_number:'JPY' }}|{{ c|money_number:'USD' }}"
    assert _render(text, a=Decimal("20"), b=Decimal("500.00"), c=Decimal("0.5")) == (
        "20.00|500|0.50"
    )


def test_no_amount_shows_nothing():
    assert _render("[{{ a|money:'USD' }}][{{ a|money_number:'USD' }}]", a=None) == "[][]"


def test_the_filters_are_not_localized_or_grouped(settings):
    settings.USE_THOUSAND_SEPARATOR = True
    settings.NUMBER_GROUPING = 3
    assert _render("{{ a|money:'USD' }}", a=Decimal("1234567.5")) == "1234567.50 USD"
