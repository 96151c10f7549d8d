{{ stage('returns', ['return_id'], ['return_id', 'order_id', 'line_number', 'reason', 'refund_amount', 'returned_at']) }}
