{{ stage(
    'order_items',
    key=['order_id', 'line_number'],
    columns=[
        'order_id', 'line_number', 'product_id', 'seller_id', 'quantity', 'unit_price', 'discount'
    ]
) }}
