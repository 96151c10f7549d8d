{{ stage(
    'reviews',
    key=['review_id'],
    columns=[
        'review_id', 'order_id', 'product_id', 'customer_id', 'rating', 'review_text', 'reviewed_at'
    ]
) }}
