{{ stage('inventory', ['snapshot_date', 'product_id'], ['snapshot_date', 'product_id', 'seller_id', 'on_hand', 'reorder_point']) }}
