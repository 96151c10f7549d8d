-- One row per calendar day the business has data for, with the calendar attributes analysts group by.
with

loaded as (

    select * from {{ ref('stg_ecom__loaded_range') }}

),

days as (

    select generate_series(first_loaded_date, last_loaded_date, interval '1 day')::date as date_day
    from loaded

),

final as (

    select
        date_day,
        extract(isodow from date_day)::int as day_of_week,
        trim(to_char(date_day, 'Day')) as day_name,
        extract(isodow from date_day) in (6, 7) as is_weekend,
        date_trunc('week', date_day)::date as week_start_date,
        date_trunc('month', date_day)::date as month_start_date,
        extract(month from date_day)::int as month_of_year,
        extract(quarter from date_day)::int as quarter_of_year,
        extract(year from date_day)::int as year_number
    from days

)

select * from final
