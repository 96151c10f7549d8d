-- The days the warehouse holds: the first and last loaded partition of orders (one row). Every model that ages
-- something "as of the last loaded day", closes a label window or spans the calendar reads it from here.
with

source as (

    select * from {{ source('ecom', 'orders') }}

),

final as (

    select
        min(_partition_date) as first_loaded_date,
        max(_partition_date) as last_loaded_date
    from source

)

select * from final
