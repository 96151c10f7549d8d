{{ stage('sessions', ['session_id'], ['session_id', 'customer_id', 'channel', 'device', 'started_at', 'ended_at', 'utm_source']) }}
