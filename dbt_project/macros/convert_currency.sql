{# Money in `from_currency` expressed in `to_currency` on the row's day, through the day's
   USD rates (`from_rate`, `to_rate` are units per USD). Rounded to six decimals, the
   precision every amount column carries; same-currency amounts pass through untouched. #}
{% macro convert_currency(amount, from_currency, to_currency, from_rate, to_rate) -%}
    case
        when {{ from_currency }} = {{ to_currency }} then {{ amount }}
        else round({{ amount }} * {{ to_rate }} / {{ from_rate }}, 6)
    end
{%- endmacro %}
