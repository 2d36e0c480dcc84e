"""The web console's own labels (the figures, devices and tiers it shows use the report's)."""

from __future__ import annotations


def _e(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


CONSOLE: dict[str, dict[str, str]] = {
    "console.title": _e("plantproof 平台控制台", "plantproof platform console"),
    "console.signin": _e("登录", "Sign in"),
    "console.signout": _e("退出", "Sign out"),
    "console.token": _e("访问令牌", "Access token"),
    "console.token_help": _e(
        "由管理员用 plantproof api token create 创建的令牌。",
        "A token an administrator created with plantproof api token create.",
    ),
    "console.signin_failed": _e("令牌无效或已撤销。", "The token is invalid or revoked."),
    "console.signed_in_as": _e("租户 {tenant} · 角色 {role}", "tenant {tenant} · role {role}"),
    "console.nav.fleet": _e("设备总览", "Fleet"),
    "console.nav.figures": _e("平台指标", "Figures"),
    "console.nav.quality": _e("数据质量", "Data quality"),
    "console.nav.audit": _e("审计日志", "Audit log"),
    "console.language": _e("语言", "Language"),
    "console.gateways": _e("网关", "Gateways"),
    "console.devices": _e("设备", "Devices"),
    "console.online": _e("在线", "online"),
    "console.offline": _e("离线", "offline"),
    "console.status": _e("状态", "Status"),
    "console.gateway": _e("网关", "Gateway"),
    "console.site": _e("站点", "Site"),
    "console.device": _e("设备", "Device"),
    "console.type": _e("类型", "Type"),
    "console.first_seen": _e("首次出现", "First seen"),
    "console.last_seen": _e("最后出现", "Last seen"),
    "console.managed": _e("可管理", "Managed"),
    "console.simulated": _e("模拟", "Simulated"),
    "console.summary": _e(
        "{online} / {total} 台设备在线，{gw_online} / {gw_total} 个网关在线。",
        "{online} of {total} devices online, {gw_online} of {gw_total} gateways online.",
    ),
    "console.none": _e("本租户的站点还没有任何设备。", "The tenant's sites have no devices yet."),
    "console.points": _e("数据点", "Points"),
    "console.point": _e("数据点", "Point"),
    "console.kind": _e("种类", "Kind"),
    "console.unit": _e("单位", "Unit"),
    "console.last_reading": _e("最新读数时间", "Last reading"),
    "console.month": _e("月份", "Month"),
    "console.show": _e("显示", "Show"),
    "console.scope": _e("租户 {tenant} 的站点：{sites}。", "Sites of tenant {tenant}: {sites}."),
    "console.withheld": _e("不按租户计算的指标", "Figures not computed per tenant"),
    "console.audit_when": _e("时间", "When"),
    "console.audit_role": _e("角色", "Role"),
    "console.audit_request": _e("请求", "Request"),
    "console.audit_status": _e("结果", "Result"),
    "console.audit_detail": _e("说明", "Detail"),
    "console.page_of": _e("第 {first}–{last} 台，共 {total} 台", "{first}–{last} of {total}"),
    "console.previous": _e("上一页", "previous"),
    "console.next": _e("下一页", "next"),
    "console.not_found": _e("没有这个设备。", "No such device."),
}
