{{ stage(
    'products',
    key=['product_id'],
    columns=[
        'product_id', 'seller_id', 'category', 'product_name', 'list_price', 'listed_at'
    ]
) }}
