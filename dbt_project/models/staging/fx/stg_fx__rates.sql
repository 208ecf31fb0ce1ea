-- Daily rates as units per US dollar; a cross rate is the ratio of two rows of one day.
select
    date,
    currency::text          as currency,
    units_per_usd
from {{ source('fx', 'fx_rates') }}
