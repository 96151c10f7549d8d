{{ stage(
    'loans',
    key=['loan_id'],
    columns=[
        'loan_id', 'seller_id', 'principal', 'annual_rate', 'term_months', 'originated_at'
    ]
) }}
