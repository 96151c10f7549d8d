{{ stage(
    'inventory',
    key=['snapshot_date', 'product_id'],
    columns=[
        'snapshot_date', 'product_id', 'seller_id', 'on_hand', 'reorder_point'
    ]
) }}
