/// The statuses of `platform.orders.status`, as stored (the app shows them as they are).
public enum OrderStatus {
    public static let waiting = "待接单"
    public static let accepted = "已接单"
    public static let inService = "服务中"
    public static let completed = "已完成"
    public static let cancelled = "已取消"
}
