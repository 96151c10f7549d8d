{{ stage(
    'orders',
    key=['order_id'],
    columns=[
        'order_id', 'customer_id', 'channel', 'ordered_at', 'promo_code', 'shipping_fee'
    ]
) }}
