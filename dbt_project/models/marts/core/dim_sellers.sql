with

sellers as (

    select * from {{ ref('stg_ecom__sellers') }}

),

final as (

    select
        seller_id,
        seller_name,
        size_band,
        category,
        region,
        founded_year,
        onboarded_at,
        onboarded_at::date as onboarded_date
    from sellers

)

select * from final
