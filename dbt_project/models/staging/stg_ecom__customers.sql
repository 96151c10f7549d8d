{{ stage(
    'customers',
    key=['customer_id'],
    columns=[
        'customer_id', 'signup_at', 'signup_channel', 'region', 'city', 'latitude', 'longitude', 'age_band',
        'gender', 'marketing_opt_in', 'updated_at'
    ]
) }}
