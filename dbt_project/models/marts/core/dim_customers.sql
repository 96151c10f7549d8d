with

customers as (

    select * from {{ ref('stg_ecom__customers') }}

),

final as (

    select
        customer_id,
        signup_at,
        signup_at::date as signup_date,
        signup_channel,
        region,
        city,
        age_band,
        gender,
        marketing_opt_in as is_marketing_opt_in,
        updated_at
    from customers

)

select * from final
