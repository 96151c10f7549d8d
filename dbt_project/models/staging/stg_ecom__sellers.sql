{{ stage(
    'sellers',
    key=['seller_id'],
    columns=[
        'seller_id', 'seller_name', 'size_band', 'category', 'region', 'founded_year', 'onboarded_at'
    ]
) }}
