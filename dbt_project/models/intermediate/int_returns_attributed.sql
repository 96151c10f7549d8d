-- Every returned line of a known order, with the seller of the line it returns.
with

returns as (

    select * from {{ ref('stg_ecom__returns') }}

),

lines as (

    select * from {{ ref('int_order_lines_dated') }}

),

final as (

    select
        lines.seller_id,
        returns.order_id,
        returns.line_number,
        returns.returned_at,
        returns.known_date
    from returns
    inner join lines
        on returns.order_id = lines.order_id
        and returns.line_number = lines.line_number

)

select * from final
