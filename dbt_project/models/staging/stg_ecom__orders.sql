{{ stage('orders', ['order_id'], ['order_id', 'customer_id', 'channel', 'ordered_at', 'promo_code', 'shipping_fee']) }}
