import Foundation

/// The console's two languages; the browser's `Accept-Language` picks one (the
/// platform's operators are Chinese-speaking, so any `zh` preference wins over a
/// lower-weighted `en`, and English is the fallback).
enum ConsoleLanguage: String, Sendable {
    case english = "en"
    case chinese = "zh"

    init(acceptLanguage: String?) {
        var best: (language: ConsoleLanguage, weight: Double)? = nil
        for item in (acceptLanguage ?? "").split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let tag = parts.first, !tag.isEmpty else { continue }
            let weight = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            let language: ConsoleLanguage? =
                tag.hasPrefix("zh") ? .chinese : (tag.hasPrefix("en") ? .english : nil)
            if let language, weight > 0, weight > (best?.weight ?? 0) { best = (language, weight) }
        }
        self = best?.language ?? .english
    }

    /// The text for `key` in this language (the key itself, in English, when missing).
    func text(_ key: String) -> String {
        switch self {
        case .english: Self.englishTexts[key] ?? key
        case .chinese: Self.chineseTexts[key] ?? Self.englishTexts[key] ?? key
        }
    }

    private static let englishTexts: [String: String] = [:]

    private static let chineseTexts: [String: String] = [
        "Overview": "概览", "Jobs": "任务", "Queues": "队列", "Cron": "定时任务", "Payouts": "结算打款",
        "Audit": "审计日志", "Log out": "退出", "Log in": "登录", "Name": "用户名", "Password": "密码",
        "Wrong name or password.": "用户名或密码错误。", "Queue": "队列", "Waiting": "等待", "Running": "运行中",
        "Scheduled": "计划中", "Failed/h": "失败/小时", "Done/min": "完成/分钟", "Oldest wait": "最长等待",
        "Throughput (30 min)": "吞吐（30 分钟）", "Completed jobs are deleted in this queue: no rows count them": "此队列完成即删除任务：无记录可计数", "Workers": "工作进程", "Leases until": "租约到期",
        "Leader": "主节点", "Service": "服务", "Holder": "持有者", "Paused": "已暂停", "State": "状态",
        "Kind": "类型", "Tag": "标签", "Created from": "创建起", "Created before": "创建止",
        "Arguments contain": "参数包含", "Filter": "筛选", "Attempt": "尝试", "Run at": "运行时间",
        "Created": "创建时间", "Next page": "下一页", "Retry": "重试", "Cancel": "取消", "Delete": "删除",
        "Run now": "立即运行", "Selected jobs": "所选任务", "All matching jobs": "全部匹配任务",
        "jobs match this filter": "个任务匹配当前筛选", "Confirm": "确认", "Arguments": "参数",
        "Attempts and errors": "尝试与错误", "Worker": "工作进程", "Error": "错误", "Depends on": "依赖",
        "Batch": "批次", "Timeline": "时间线", "Attempted": "开始尝试", "Finalized": "结束", "When": "时间",
        "Who": "操作人", "Action": "操作", "Target": "对象", "Count": "数量", "Pause": "暂停", "Resume": "恢复",
        "Concurrency limit": "并发上限", "Aging seconds": "优先级老化秒数", "Save": "保存",
        "Completed jobs": "已完成任务", "Kept": "保留", "Deleted": "删除",
        "Expression": "表达式", "Time zone": "时区", "Last fire": "上次触发", "Next fire": "下次触发",
        "Period": "周期", "Preview (dry run)": "预览（试算）", "Start run": "开始结算",
        "Cleaner": "保洁员", "Level": "等级", "Orders": "订单", "Gross": "总额", "Commission": "佣金",
        "Bonus": "奖励", "Penalty": "罚款", "Net": "净额", "Payable": "应付",
        "Dry run: nothing was written.": "试算：未写入任何数据。", "Payout run started": "结算已开始",
        "Action started": "操作已开始", "No jobs.": "没有任务。", "Job": "任务", "Jobs started": "已入队任务",
        "Your role does not allow this.": "您的角色无权执行此操作。", "Role": "角色", "none": "无",
        "Live": "实时", "Ledger balanced": "账目平衡", "Ledger NOT balanced": "账目不平衡",
        "Total": "合计", "Runs": "结算批次", "Status": "状态",
        "Enabled": "启用", "yes": "是", "no (disabled)": "否（已停用）", "Run requested": "已请求运行",
        "Enable": "启用", "Disable": "停用", "Host (pid)": "主机（进程号）", "Started": "启动时间",
        "Last seen": "最近心跳",
        "Statistics": "平台统计", "From": "起", "To": "止", "Show": "查看",
        "Days of the business time zone": "按业务时区划分日期", "Day": "日期", "Orders placed": "下单数",
        "Completed": "完成", "Cancelled": "取消", "GMV": "交易额", "Paid": "实付", "Refunded": "退款",
        "New customers": "新客户", "Active customers": "活跃客户", "Returning": "回头客",
        "Active cleaners": "活跃保洁员", "Service minutes": "服务分钟", "Utilisation": "利用率",
        "Reviews": "评价数", "Rating": "评分", "Cleaner income": "保洁员收入",
        "Workflows": "工作流", "Batches": "批次", "Progress": "进度", "Jobs by state": "各状态任务数",
        "Last finished": "最近完成", "Lines paid": "已付笔数", "Owed": "待付", "Retry transfer": "重试转账", "Showing the first": "仅显示前", "Callback": "回调",
    ]
}
