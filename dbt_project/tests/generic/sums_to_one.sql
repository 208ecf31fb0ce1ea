{# Every group's `column` sums to 1 (within rounding): attribution never loses or invents
   a conversion. #}
{% test sums_to_one(model, column_name, group_by) %}
select {{ group_by | join(', ') }}, sum({{ column_name }}) as total
from {{ model }}
group by {{ group_by | join(', ') }}
having abs(sum({{ column_name }}) - 1) > 1e-9
{% endtest %}
