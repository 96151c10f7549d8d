{{ stage(
    'sessions',
    key=['session_id'],
    columns=[
        'session_id', 'customer_id', 'channel', 'device', 'started_at', 'ended_at', 'utm_source'
    ]
) }}
