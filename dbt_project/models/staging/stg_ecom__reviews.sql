{{ stage('reviews', ['review_id'], ['review_id', 'order_id', 'product_id', 'customer_id', 'rating', 'review_text', 'reviewed_at']) }}
